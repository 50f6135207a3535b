"""The errors a user can cause, and the exit status that reports them: one leaf module every other part of
the package imports (it imports nothing of ESG), so the error types and exit codes have one definition.

- AppLoadError: the app (or something it needs before serving: --user, uvloop, --wsgi-threads) cannot be
  loaded; str(self) is one sentence for the user. A worker prints it and exits with EXIT_STARTUP_FAILURE.
- ConfigFileError: a file named by an option (--env-file, --log-config) cannot be used. An AppLoadError,
  so every place that handles a load failure handles it too.
- ConfigError: a combination of esg.run() / gunicorn-worker options that cannot be honoured.
"""

# A worker (or esg.run, or a gunicorn ESGWorker) whose app cannot start exits with this status: the
# master's crash-loop rule, uvicorn users' scripts and gunicorn's arbiter (its WORKER_BOOT_ERROR) all read
# it as "the app cannot start; do not retry".
EXIT_STARTUP_FAILURE = 3


class AppLoadError(Exception):
    """The application could not be loaded; str(self) is the message for the user."""


class ConfigFileError(AppLoadError):
    """A configuration file named by an option (--env-file, --log-config) cannot be used; str(self) says
    which option, which file and why."""


class ConfigError(ValueError):
    """A combination of options esg.run() cannot honour (the message says what to change)."""

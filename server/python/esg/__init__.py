"""ESG: an application server for Python web apps (ASGI 3, ASGI 2, WSGI) with a C++ engine.

Run it from the command line (`esg example:app`), under gunicorn (`-k esg.workers.ESGWorker`), or from
Python with `esg.run(...)`. The serving engine is the `esg._esg` extension module.
"""

__version__ = "0.1.0"

from esg.main import run  # noqa: E402

__all__ = ["__version__", "run"]

"""--cpu-scheduling: the worker's Linux scheduling policy.

SCHED_BATCH changes one thing for a throughput server: when new requests wake the worker, it does not
preempt whatever runs on its core (nginx in front of it, another worker); it runs at its next turn and
answers everything that queued up meanwhile. CPU shares and nice values are unchanged. Measured behind
nginx on a shared core (tests/bench, nginx-uds-hello): about 60 requests per wake-up instead of 1.4, and
half the CPU per request. Applied to the calling thread before the engine starts; threads created later
(the WSGI pool) inherit it.
"""

import os

from esg import _log


def apply(policy: str) -> None:
    """Sets `policy` ("batch" or "normal") on the calling thread. A real-time policy set from outside
    (e.g. by chrt) is left alone; a refusal (e.g. seccomp) is logged and serving goes on."""
    if not hasattr(os, "SCHED_BATCH"):
        return
    current = os.sched_getscheduler(0)
    wanted = os.SCHED_BATCH if policy == "batch" else os.SCHED_OTHER
    if current not in (os.SCHED_OTHER, os.SCHED_BATCH) or current == wanted:
        return
    try:
        os.sched_setscheduler(0, wanted, os.sched_param(0))
    except OSError as exc:
        _log.warning(f"--cpu-scheduling {policy}: {exc.strerror}; keeping the current policy.")

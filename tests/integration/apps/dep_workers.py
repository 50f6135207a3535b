"""Gunicorn worker subclasses as the deployment guide shows them (CONFIG_KWARGS)."""

from esg.workers import ESGWorker


class MyESGWorker(ESGWorker):
    CONFIG_KWARGS = {"loop": "asyncio", "http": "h11", "lifespan": "off"}


class BadESGWorker(ESGWorker):
    CONFIG_KWARGS = {"no_such_option": 1}


class MasterOnlyESGWorker(ESGWorker):
    # Only the esg master recycles by memory: under gunicorn this is a boot error naming the option.
    CONFIG_KWARGS = {"limit_worker_memory": 100}

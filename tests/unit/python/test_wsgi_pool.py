"""esg.wsgi's _ThreadPool: threads start on demand up to the core, grow past it only while calls wait and
the process has CPU to spare (its threads are blocked), never past the size, and the extra threads end when
idle.

The calls here are stand-ins for esg.wsgi._Call (run() on a pool thread, complete() on the loop): the pool
only needs those two and `send`. Waits are bounded and never assert a duration."""

import asyncio
import threading
import time

from esg import wsgi

WAIT = 20.0


class Blocking:
    """A call that blocks its pool thread until `gate` is set."""

    send = None
    waiter = None

    def __init__(self, gate, entered, done):
        self.gate, self.entered, self.done = gate, entered, done

    def run(self):
        self.entered.append(threading.current_thread().name)
        if not self.gate.wait(WAIT):
            raise TimeoutError("gate never opened")
        return None

    def complete(self, result, error):
        self.done.append(error)


async def wait_until(predicate, what):
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def run(coro):
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def test_blocked_calls_grow_the_pool_past_its_core_up_to_its_size():
    async def main():
        loop = asyncio.get_running_loop()
        pool = wsgi._ThreadPool(6, core=2, stall=0.01, idle_exit=60)
        gate, entered, done = threading.Event(), [], []
        for _ in range(8):
            pool.submit(loop, Blocking(gate, entered, done))
        await wait_until(lambda: len(entered) == 6, "six calls running at once")
        assert pool.threads == 6  # never past the size: two calls still wait
        gate.set()
        await wait_until(lambda: len(done) == 8, "all eight calls completed")
        assert done == [None] * 8 and pool.threads == 6
    run(main())


def test_threads_beyond_the_core_end_when_idle():
    async def main():
        loop = asyncio.get_running_loop()
        pool = wsgi._ThreadPool(5, core=1, stall=0.01, idle_exit=0.05)
        gate, entered, done = threading.Event(), [], []
        for _ in range(5):
            pool.submit(loop, Blocking(gate, entered, done))
        await wait_until(lambda: len(entered) == 5, "five calls running at once")
        gate.set()
        await wait_until(lambda: len(done) == 5, "all five calls completed")
        await wait_until(lambda: pool.threads == 1, "the pool back at its core")
        # The core thread still serves, and the pool grows again when calls block.
        gate2, entered2, done2 = threading.Event(), [], []
        for _ in range(3):
            pool.submit(loop, Blocking(gate2, entered2, done2))
        await wait_until(lambda: len(entered2) == 3, "three calls running at once again")
        gate2.set()
        await wait_until(lambda: len(done2) == 3, "the second batch completed")
    run(main())


def test_the_stall_check_grows_only_while_the_process_has_cpu_to_spare():
    # Deterministic: the clocks are the test's, the check is called by hand, the threads are not started.
    async def main():
        loop = asyncio.get_running_loop()
        pool = wsgi._ThreadPool(10, core=1, stall=3600, idle_exit=60)
        pool._loop = loop
        clock = {"wall": 100.0, "cpu": 5.0}
        pool._now = lambda: clock["wall"]
        pool._cpu = lambda: clock["cpu"]
        started = []
        pool._start = lambda: started.append(1) or setattr(pool, "_threads", pool._threads + 1)
        for _ in range(3):
            pool._queue.put(None)  # three waiting calls (stand-ins never run)
        pool._arm(loop)
        clock["wall"] += 0.01
        clock["cpu"] += 0.006  # 0.6 CPU: the calls compute (the GIL is the limit), no growth
        pool._watch.cancel()
        pool._check_stall()
        assert started == [] and pool._watch is not None  # still watching
        clock["wall"] += 0.01
        clock["cpu"] += 0.001  # 0.1 CPU: the threads are blocked — one per waiting call
        pool._watch.cancel()
        pool._check_stall()
        assert len(started) == 3 and pool.threads == 3
        pool._watch.cancel()
        while not pool._queue.empty():
            pool._queue.get()
        clock["wall"] += 0.01
        pool._check_stall()  # no call waits: the watch ends
        assert len(started) == 3 and pool._watch is None
    run(main())


def test_a_pool_of_one_never_grows():
    async def main():
        loop = asyncio.get_running_loop()
        pool = wsgi._ThreadPool(1, stall=0.01, idle_exit=60)
        gate, entered, done = threading.Event(), [], []
        for _ in range(3):
            pool.submit(loop, Blocking(gate, entered, done))
        await wait_until(lambda: len(entered) == 1, "one call running")
        await asyncio.sleep(0.1)  # several stall periods: still one thread
        assert len(entered) == 1 and pool.threads == 1
        gate.set()
        await wait_until(lambda: len(done) == 3, "all three calls completed, one after another")
    run(main())

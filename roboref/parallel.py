"""Map a function over work items in this process, in spawned local processes, or on Ray.

Results come back as they finish (unordered), with at most ``2 × workers`` items in flight, so
memory stays bounded. Worker processes are *spawned*, never forked: each makes its own MuJoCo GL
context. What a worker keeps between items (an env costs ~0.3 s to make) is explicit: with
``state=make``, each worker (this process when inline, each pool process, each Ray actor) calls
``make()`` once, passes the result to every ``fn(item, state)`` it runs, and closes it at the end.
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import gc
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from roboref import THREAD_VARS, threads_per_process

#: Ray puts Unix sockets ~62 characters below its temp folder; socket paths end at 107.
RAY_MAX_TEMP_DIR = 44

#: This pool process's state, made once by ``init_worker`` (pool processes only).
_STATE: Any = None


def share_cores(threads: int) -> None:
    """Give this worker process ``threads`` threads in every thread pool, so that N workers use
    the cores once instead of N times. Two workers on two cores, each with torch's default two
    OpenMP threads, made RefPoint's eval 4x costlier per episode in CPU time (the threads' spin
    waits), so two workers ran at half the speed of one. Variables the user set are kept."""
    for var in THREAD_VARS:
        os.environ.setdefault(var, str(threads))
    if "torch" in sys.modules:  # loaded before this ran: its pool size is fixed, set it directly
        sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def fast_exit() -> None:
    """Make this process's exit skip the interpreter's last garbage collections: ``gc.freeze``
    at exit, after every other exit handler. A process that has loaded torch and MiniLM otherwise
    spends ~1 s after its last line tracing its millions of objects (measured: 1.05 s -> 0.15 s),
    and a pool waits for each worker to exit. Only garbage in reference cycles is left uncollected,
    and the process is ending."""
    atexit.register(gc.freeze)  # handlers run last-registered first: call this early


def init_worker(parent: int, threads: int, make_state: Callable[[], Any] | None = None, every_s: float = 0.5) -> None:
    """Pool initializer. Shares the cores out among the workers' thread pools (``share_cores``:
    torch's OpenMP, BLAS and Mesa's llvmpipe otherwise start a thread per core in every worker),
    makes this worker's state (closed when the process exits), and ends this worker when the
    process that spawned it dies (e.g. SIGKILL) instead of idling as an orphan holding a GL
    context."""
    global _STATE
    fast_exit()
    share_cores(threads)
    if make_state is not None:
        _STATE = make_state()
        atexit.register(close_state, _STATE)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def close_state(state: Any) -> None:
    """``state.close()`` where it has one."""
    close = getattr(state, "close", None)
    if close is not None:
        close()


def _with_state(fn: Callable, item: Any) -> Any:
    try:
        return fn(item, _STATE)
    finally:
        # atexit runs last-registered first: keep closing the state ahead of the handlers the
        # item's libraries registered (mujoco's EGL terminates its display in one; closing a
        # renderer after it fails with EGL_BAD_DISPLAY)
        atexit.unregister(close_state)
        atexit.register(close_state, _STATE)


def map_inline(fn: Callable, items: Iterable, make_state: Callable[[], Any] | None = None) -> Iterator[Any]:
    """In this process; a state is made for this map and closed when it ends."""
    if make_state is None:
        for item in items:
            yield fn(item)
        return
    state = make_state()
    try:
        for item in items:
            yield fn(item, state)
    finally:
        close_state(state)


def map_processes(
    fn: Callable, items: Iterable, workers: int, make_state: Callable[[], Any] | None = None
) -> Iterator[Any]:
    """``fn`` (and ``make_state``) must be importable (module-level) and the items picklable."""
    ctx = multiprocessing.get_context("spawn")
    todo = iter(items)
    with cf.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=init_worker,
        initargs=(os.getpid(), threads_per_process(workers), make_state),
    ) as pool:
        pending: set[cf.Future] = set()
        try:
            while True:
                for item in todo:
                    pending.add(pool.submit(_with_state, fn, item) if make_state else pool.submit(fn, item))
                    if len(pending) >= 2 * workers:
                        break
                if not pending:
                    return
                done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    yield fut.result()
        finally:
            for fut in pending:
                fut.cancel()


class _RayWorker:
    """A Ray actor holding one worker's state; it runs the items it is given."""

    def __init__(self, make_state: Callable[[], Any] | None) -> None:
        share_cores(1)  # the actor holds one CPU (Ray sets OMP_NUM_THREADS, not the others)
        self.state = make_state() if make_state is not None else None

    def run(self, fn: Callable, item: Any) -> Any:
        return fn(item) if self.state is None else fn(item, self.state)


def map_ray(
    fn: Callable,
    items: Iterable,
    address: str,
    workers: int,
    temp_dir: Path,
    make_state: Callable[[], Any] | None = None,
) -> Iterator[Any]:
    """Ray actors, one CPU each, one per CPU of the cluster (each keeps its state). ``address=
    "local"`` starts a private local cluster with ``workers`` CPUs and its files under
    ``temp_dir``; any other address joins that cluster (whose nodes must have roboref installed)."""
    try:
        import ray
    except ImportError:
        raise ValueError("ray.address needs Ray: pip install 'roboref[ray]'") from None
    kwargs: dict[str, Any] = {"address": address, "log_to_driver": False}
    own_tmp = None
    if address == "local":
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        temp_dir = Path(temp_dir).resolve()
        if len(str(temp_dir)) > RAY_MAX_TEMP_DIR:  # Ray's socket paths would pass the OS limit
            temp_dir = own_tmp = Path(tempfile.mkdtemp(prefix="roboref-ray-"))
        temp_dir.mkdir(parents=True, exist_ok=True)
        kwargs.update(num_cpus=workers, include_dashboard=False, _temp_dir=str(temp_dir))
    started = not ray.is_initialized()
    if started:
        ray.init(**kwargs)
    try:
        from ray.util import ActorPool

        parallel = max(1, int(ray.cluster_resources().get("CPU", workers)))
        actor = ray.remote(num_cpus=1)(_RayWorker)
        pool = ActorPool([actor.remote(make_state) for _ in range(parallel)])
        yield from pool.map_unordered(lambda a, item: a.run.remote(fn, item), items)
    finally:
        if started:
            ray.shutdown()
        if own_tmp is not None:
            shutil.rmtree(own_tmp, ignore_errors=True)


def parallel_map(
    fn: Callable,
    items: Iterable,
    workers: int = 1,
    ray_address: str | None = None,
    temp_dir: Path | None = None,
    state: Callable[[], Any] | None = None,
) -> Iterator[Any]:
    """Inline for one worker, local processes for several, Ray when an address is given. With
    ``state``, each worker makes ``state()`` once and runs ``fn(item, that_state)``."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if ray_address:
        return map_ray(fn, items, ray_address, workers, temp_dir or Path(tempfile.gettempdir()), state)
    if workers == 1:
        return map_inline(fn, items, state)
    return map_processes(fn, items, workers, state)

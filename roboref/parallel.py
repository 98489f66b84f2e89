"""Map a function over work items in this process, in spawned local processes, or on Ray.

Results come back as they finish (unordered), with at most ``2 × workers`` items in flight, so
memory stays bounded. Worker processes are *spawned*, never forked: each makes its own MuJoCo GL
context, and a worker function may keep an env alive between items (``functools.lru_cache``).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

#: Ray puts Unix sockets ~62 characters below its temp folder; socket paths end at 107.
RAY_MAX_TEMP_DIR = 44


def init_worker(parent: int, gl_threads: int, every_s: float = 0.5) -> None:
    """Pool initializer. Shares the cores out among the workers' software GL renderers (Mesa
    llvmpipe otherwise starts a thread per core in every worker), and ends this worker when the
    process that spawned it dies (e.g. SIGKILL) instead of idling as an orphan holding a GL context."""
    os.environ.setdefault("LP_NUM_THREADS", str(gl_threads))

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def map_inline(fn: Callable, items: Iterable) -> Iterator[Any]:
    for item in items:
        yield fn(item)


def map_processes(fn: Callable, items: Iterable, workers: int) -> Iterator[Any]:
    """``fn`` must be importable (a module-level function) and its items picklable."""
    ctx = multiprocessing.get_context("spawn")
    todo = iter(items)
    with cf.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=init_worker,
        initargs=(os.getpid(), max(1, (os.cpu_count() or 1) // workers)),
    ) as pool:
        pending: set[cf.Future] = set()
        try:
            while True:
                for item in todo:
                    pending.add(pool.submit(fn, item))
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


def map_ray(fn: Callable, items: Iterable, address: str, workers: int, temp_dir: Path) -> Iterator[Any]:
    """Ray tasks, one CPU each. ``address="local"`` starts a private local cluster with
    ``workers`` CPUs and its files under ``temp_dir``; any other address joins that cluster
    (whose nodes must have roboref installed)."""
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
        parallel = max(1, int(ray.cluster_resources().get("CPU", workers)))
        remote = ray.remote(num_cpus=1)(fn)
        todo = iter(items)
        pending: list = []
        while True:
            for item in todo:
                pending.append(remote.remote(item))
                if len(pending) >= 2 * parallel:
                    break
            if not pending:
                return
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                yield ray.get(ref)
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
) -> Iterator[Any]:
    """Inline for one worker, local processes for several, Ray when an address is given."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if ray_address:
        return map_ray(fn, items, ray_address, workers, temp_dir or Path(tempfile.gettempdir()))
    if workers == 1:
        return map_inline(fn, items)
    return map_processes(fn, items, workers)

"""Shared timing helper for the benchmark scripts (run them as ``python benchmarks/<name>.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds``, after one warm-up call."""
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t0)


def rates_interleaved(fns: dict[str, Callable[[], object]], seconds: float, block: int = 5) -> dict[str, float]:
    """Calls per second of each of ``fns``, timed in turns (``block`` calls each) for about
    ``seconds`` in all, from the median block: on a shared machine, load that comes and goes
    then weighs on every function alike, so their ratios hold."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():
        fn()
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(block):
                fn()
            times[name].append((time.perf_counter() - t0) / block)
    return {k: 1.0 / sorted(v)[len(v) // 2] for k, v in times.items()}

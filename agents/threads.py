"""``torch_threads``: torch's CPU thread count for the length of one training call, restored after.

torch's thread count is process-global, so only an explicit training call (or a CLI entry point)
may change it, never an agent's constructor. Tiny models gain nothing from 2 threads, and on a
busy 2-core machine OpenMP's barriers made RefPoint ~6x and the tiny VLM ~60x slower (measured),
so the CPU configs ask for 1.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch threads (None or 0: leave torch's count alone)."""
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)

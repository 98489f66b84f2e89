"""Success rates with confidence intervals: one place for the statistics every report uses.

``wilson`` for one rate (good at small n and near 0 or 1), ``paired_difference`` for two agents
on the same episodes, ``rate`` for the ``{n, successes, rate, ci95}`` cell of a summary.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a success rate (good at small n and near 0 or 1)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_difference(a: list[bool], b: list[bool], z: float = 1.96) -> tuple[float, float, float]:
    """``b``'s success rate minus ``a``'s on the *same* episodes, with a 95 % interval.

    Paired, because two agents scored on identical seeds share every episode's difficulty: the
    interval of the difference is much narrower than the two Wilson intervals side by side. It
    is Agresti & Min's (2005) adjusted Wald interval for matched proportions: with ``n12`` the
    episodes only ``a`` solved and ``n21`` those only ``b`` solved, each cell of the 2×2 table
    gets +0.5, ``d = (n21 - n12) / n`` and ``var = ((n12 + n21) - (n21 - n12)² / n) / n²``.
    Returns the observed difference and the interval: ``(d, low, high)``.
    """
    if len(a) != len(b):
        raise ValueError(f"paired_difference needs equally long lists, got {len(a)} and {len(b)}")
    if not a:
        raise ValueError("paired_difference needs at least one episode")
    n = len(a)
    n12 = sum(x and not y for x, y in zip(a, b, strict=True))
    n21 = sum(y and not x for x, y in zip(a, b, strict=True))
    m, p12, p21 = n + 2.0, n12 + 0.5, n21 + 0.5
    d_adj = (p21 - p12) / m
    half = z * math.sqrt(max((p12 + p21) - (p21 - p12) ** 2 / m, 0.0)) / m
    return (n21 - n12) / n, max(-1.0, d_adj - half), min(1.0, d_adj + half)


def rate(successes: Iterable[bool]) -> dict:
    """``{"n", "successes", "rate", "ci95"}`` of a list of outcomes (rate 0 when empty)."""
    flags = [bool(s) for s in successes]
    n, s = len(flags), sum(flags)
    return {"n": n, "successes": s, "rate": s / n if n else 0.0, "ci95": wilson(s, n)}


def format_rate(cell: dict) -> str:
    """A summary cell as ``rate [low, high] (n=…)`` in percent."""
    lo, hi = cell["ci95"]
    return f"{100 * cell['rate']:.1f} [{100 * lo:.1f}, {100 * hi:.1f}] (n={cell['n']})"

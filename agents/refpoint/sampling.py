"""Points from a RefPoint heatmap: the arg-max cell for acting, seeded samples for GRPO.

A sample is a cell drawn from the softmax (at ``temperature``) plus a uniform offset inside the
cell; its log-probability is the cell's (the offset's density is the same for every cell, so it
cancels in policy ratios).
"""

from __future__ import annotations

import torch


def cell_to_point(cells: torch.Tensor, grid: int, offset: torch.Tensor | None = None) -> torch.Tensor:
    """Normalized ``(x, y)`` of flat cell indices: the centre, or ``offset`` ∈ [0, 1)² inside it."""
    row, col = cells // grid, cells % grid
    off = torch.full((*cells.shape, 2), 0.5) if offset is None else offset
    return torch.stack([(col.float() + off[..., 0]) / grid, (row.float() + off[..., 1]) / grid], -1)


def argmax_points(logits: torch.Tensor) -> torch.Tensor:
    """``(B, G, G)`` logits → ``(B, 2)`` centres of the most likely cells."""
    grid = logits.shape[-1]
    return cell_to_point(logits.flatten(1).argmax(-1), grid)


def sample_points(
    logits: torch.Tensor, num: int, generator: torch.Generator, temperature: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``num`` points per heatmap: ``(cells (B, num), points (B, num, 2))``; the same
    ``generator`` state gives the same draws."""
    grid = logits.shape[-1]
    probs = torch.softmax(logits.detach().flatten(1).float() / temperature, -1)
    cells = torch.multinomial(probs, num, replacement=True, generator=generator)
    offset = torch.rand((*cells.shape, 2), generator=generator)
    return cells, cell_to_point(cells, grid, offset)


def cell_log_probs(logits: torch.Tensor, cells: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Log-probabilities ``(B, num)`` of ``cells`` under the heatmap (differentiable)."""
    logp = torch.log_softmax(logits.flatten(1) / temperature, -1)
    return logp.gather(1, cells)

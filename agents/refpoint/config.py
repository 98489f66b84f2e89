"""``RefPointConfig``: everything that fixes the model's shape, saved as ``config.json`` beside
the weights so a checkpoint rebuilds exactly the network it was trained as."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from roboref.assets.objects import CATEGORIES, PALETTE

#: Subject vocabularies of the reasoning-step heads (the target's colour and category).
SUBJECT_CATEGORIES: tuple[str, ...] = (*CATEGORIES, "free space")
SUBJECT_COLORS: tuple[str, ...] = tuple(PALETTE)
KINDS: tuple[str, ...] = ("location", "placement")


@dataclass(frozen=True)
class RefPointConfig:
    """Shape of RefPoint. ``image_size`` is the square input resolution (the env image is resized
    to it); the heatmap is ``image_size / stride`` cells a side."""

    image_size: int = 112
    stride: int = 4  # input pixels per heatmap cell
    patch: int = 8  # input pixels per feature cell (features are upsampled to the heatmap)
    rgb_channels: tuple[int, int, int] = (48, 64, 64)
    depth_channels: tuple[int, int, int] = (16, 24, 32)
    use_depth: bool = True  # False: the "no depth encoder" ablation
    max_depth: float = 3.0  # metres; depth is clipped here (the sky reads 100 m)
    dim: int = 64  # fusion width
    fusion_layers: int = 2
    heads: int = 4
    text_encoder: str = "minilm"  # minilm (frozen all-MiniLM-L6-v2 token features) | hash (own)
    text_dim: int = 384  # MiniLM hidden size
    max_tokens: int = 40
    hash_buckets: int = 4096
    anchor_slots: int = 0  # > 0: slots for the anchors' reasoning steps (``anchors.py``)
    categories: tuple[str, ...] = SUBJECT_CATEGORIES
    colors: tuple[str, ...] = SUBJECT_COLORS

    def __post_init__(self):
        if self.image_size % self.patch or self.patch % self.stride:
            raise ValueError(
                f"image_size {self.image_size} must be a multiple of patch {self.patch}, "
                f"and patch a multiple of stride {self.stride}"
            )
        if self.text_encoder not in ("minilm", "hash"):
            raise ValueError(f"text_encoder must be 'minilm' or 'hash', got {self.text_encoder!r}")
        if self.dim % self.heads:
            raise ValueError(f"dim {self.dim} must be divisible by heads {self.heads}")

    @property
    def feature_grid(self) -> int:
        """Feature cells per side (anchor positions live on this grid)."""
        return self.image_size // self.patch

    @property
    def grid(self) -> int:
        """Heatmap cells per side."""
        return self.image_size // self.stride

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> RefPointConfig:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown RefPointConfig field(s) {unknown}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> RefPointConfig:
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (json.JSONDecodeError, TypeError, ValueError) as err:
            raise ValueError(f"{path}: not a valid RefPoint config: {err}") from err

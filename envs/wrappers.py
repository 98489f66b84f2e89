"""Wrappers that each do one thing to a roboref env's observations."""

from __future__ import annotations

import re

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from roboref.assets.objects import CATEGORIES, PALETTE
from roboref.envs.tasks.color_category import TEMPLATES

PAD, UNK = 0, 1
_WORD = re.compile(r"[a-z0-9]+")


def instruction_vocabulary() -> tuple[str, ...]:
    """A fixed, deterministic word list: template words, colours, categories and synonyms."""
    words: set[str] = set()
    for text in [*TEMPLATES, *PALETTE, *CATEGORIES, *(s for c in CATEGORIES.values() for s in c.synonyms)]:
        words.update(_WORD.findall(text.lower()))
    words.update(str(d) for d in range(10))
    return ("<pad>", "<unk>", *sorted(words))


class WordTokenizer:
    """Lower-cased words -> ids (0 = padding, 1 = unknown), fixed length."""

    def __init__(self, vocabulary: tuple[str, ...] | None = None, max_tokens: int = 32):
        self.vocabulary = vocabulary or instruction_vocabulary()
        self.index = {w: i for i, w in enumerate(self.vocabulary)}
        self.max_tokens = max_tokens

    def __call__(self, text: str) -> np.ndarray:
        ids = [self.index.get(w, UNK) for w in _WORD.findall(text.lower())][: self.max_tokens]
        out = np.full(self.max_tokens, PAD, np.int64)
        out[: len(ids)] = ids
        return out


class TokenizedInstruction(gym.ObservationWrapper):
    """For stable-baselines3 users: SB3 has no ``Text`` space, so the instruction becomes
    fixed-length word ids, depth becomes a ``uint8`` image in centimetres (clipped at 2.55 m),
    and the camera matrices stay float vectors. Passes ``stable_baselines3.common.env_checker``.
    """

    def __init__(self, env: gym.Env, max_tokens: int = 32):
        super().__init__(env)
        self.tokenizer = WordTokenizer(max_tokens=max_tokens)
        rgb = env.observation_space["rgb"]
        h, w = rgb.shape[:2]
        self.observation_space = spaces.Dict(
            {
                "rgb": rgb,
                "depth": spaces.Box(0, 255, (h, w, 1), np.uint8),
                "instruction": spaces.Box(0, len(self.tokenizer.vocabulary) - 1, (max_tokens,), np.int64),
                "intrinsics": spaces.Box(-1e5, 1e5, (9,), np.float32),
                "extrinsics": spaces.Box(-100.0, 100.0, (16,), np.float32),
            }
        )

    def observation(self, obs: dict) -> dict:
        depth_cm = np.clip(np.rint(obs["depth"] * 100.0), 0, 255).astype(np.uint8)
        return {
            "rgb": obs["rgb"],
            "depth": depth_cm[..., None],
            "instruction": self.tokenizer(obs["instruction"]),
            "intrinsics": obs["intrinsics"].reshape(9).astype(np.float32),
            "extrinsics": obs["extrinsics"].reshape(16).astype(np.float32),
        }

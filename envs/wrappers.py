"""Wrappers that each do one thing to a roboref env's observations."""

from __future__ import annotations

import re
import zlib

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from roboref.envs.tasks.records import AgentOutput

PAD = 0
_PRINTABLE = frozenset(chr(c) for c in range(32, 127)) | {"\n", "\t", "°", "→"}
_WORD = re.compile(r"[a-z0-9]+")


class WordTokenizer:
    """Lower-cased words -> ids by a stable hash (0 = padding), fixed length.

    Hashing needs no vocabulary file, so any instruction the task engine writes (or a user types)
    maps to ids; with 4,096 buckets two of the engine's few hundred words rarely share an id.
    """

    def __init__(self, vocab_size: int = 4096, max_tokens: int = 48):
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2, got {vocab_size}")
        self.vocab_size = vocab_size
        self.max_tokens = max_tokens

    def word_id(self, word: str) -> int:
        return 1 + zlib.crc32(word.encode()) % (self.vocab_size - 1)

    def __call__(self, text: str) -> np.ndarray:
        ids = [self.word_id(w) for w in _WORD.findall(text.lower())][: self.max_tokens]
        out = np.full(self.max_tokens, PAD, np.int64)
        out[: len(ids)] = ids
        return out


class TokenizedInstruction(gym.ObservationWrapper):
    """For stable-baselines3 users: SB3 has no ``Text`` space, so the instruction becomes
    fixed-length word ids, depth becomes a ``uint8`` image in centimetres (clipped at 2.55 m),
    and the camera matrices stay float vectors. Passes ``stable_baselines3.common.env_checker``.
    """

    def __init__(self, env: gym.Env, max_tokens: int = 48, vocab_size: int = 4096):
        super().__init__(env)
        self.tokenizer = WordTokenizer(vocab_size=vocab_size, max_tokens=max_tokens)
        rgb = env.observation_space["rgb"]
        h, w = rgb.shape[:2]
        self.observation_space = spaces.Dict(
            {
                "rgb": rgb,
                "depth": spaces.Box(0, 255, (h, w, 1), np.uint8),
                "instruction": spaces.Box(0, vocab_size - 1, (max_tokens,), np.int64),
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


class TextAction(gym.Wrapper):
    """For language models: the action is the model's text (``[(x, y)]``, optionally with
    ``<think>`` reasoning steps). A parsable answer is stepped as its first point, and the env's
    reward composer sees the text; an unusable one ends the episode with reward 0 and the reason
    in ``info["format_reason"]`` (no exception, no physics step)."""

    def __init__(self, env: gym.Env, max_length: int = 4096):
        super().__init__(env)
        self.action_space = spaces.Text(max_length, min_length=0, charset=_PRINTABLE)

    def step(self, text):
        from roboref.rewards.format import parse_answer

        parsed = parse_answer(text)
        answer = AgentOutput(
            point=parsed.points[0] if parsed.ok else None,
            text=text if isinstance(text, str) else "",
            steps=parsed.steps,
        )
        obs, reward, terminated, truncated, info = self.env.step(answer)
        info["format_reason"] = parsed.reason
        if not parsed.ok:
            info["reward_reasons"] = {"format": parsed.reason, "point": parsed.reason}
        return obs, reward, terminated, truncated, info


class RecordEpisodes(gym.Wrapper):
    """Record each episode to ``out_dir/episode_NNN.mp4``: the agent camera with the instruction,
    the proposed point and the outcome drawn, beside an overview camera. While a controller
    executes a point, frames are captured from the simulation every ``1 / fps`` simulated
    seconds, so the video shows the robot moving."""

    def __init__(
        self,
        env: gym.Env,
        out_dir: str,
        fps: int = 10,
        hold_s: float = 1.0,
        overview: str = "overview",
        size: tuple[int, int] = (320, 240),
    ):
        super().__init__(env)
        from pathlib import Path

        self.out_dir = Path(out_dir)
        self.fps, self.hold = fps, max(1, int(round(hold_s * fps)))
        self.overview, self.size = overview, size
        self.frames: list[np.ndarray] = []
        self.episode = 0
        self.paths: list = []
        self._point = None
        self._last_t = -1.0

    def _frame(self, point=None, success=None, mask=None) -> np.ndarray:
        from roboref.envs.drawing import annotate, side_by_side

        u = self.env.unwrapped
        cam = u.config.camera
        rgb = u.sim.render(cam, depth=False).rgb
        instruction = u.task.instruction if u.task is not None else ""
        left = annotate(rgb, instruction, point, success, mask=mask)
        right = u.sim.render(self.overview, depth=False, size=self.size).rgb
        scale = left.shape[0] / right.shape[0]
        from PIL import Image

        right = np.asarray(Image.fromarray(right).resize((int(right.shape[1] * scale), left.shape[0])))
        return side_by_side(left, right)

    def _hook(self, sim) -> None:
        if sim.data.time - self._last_t >= 1.0 / self.fps:
            self._last_t = sim.data.time
            self.frames.append(self._frame(self._point))

    def reset(self, **kwargs):
        self._flush()
        obs, info = self.env.reset(**kwargs)
        self.frames = [self._frame()] * self.hold
        return obs, info

    def step(self, action):
        u = self.env.unwrapped
        point = action.point if isinstance(action, AgentOutput) else action
        try:
            self._point = None if point is None else [float(v) for v in np.asarray(point, float).reshape(-1)[:2]]
        except (TypeError, ValueError):
            self._point = None
        task = u.task
        self._last_t = u.sim.data.time
        u.sim.step_hooks.append(self._hook)
        try:
            obs, reward, terminated, truncated, info = self.env.step(action)
        finally:
            u.sim.step_hooks.remove(self._hook)
        mask = task.mask if task is not None else None
        self.frames += [self._frame(self._point, bool(info.get("success")), mask)] * self.hold
        if terminated or truncated:
            self._flush()
        return obs, reward, terminated, truncated, info

    def _flush(self) -> None:
        from roboref.envs.drawing import pad_to_common, write_mp4

        if len(self.frames) > self.hold:
            frames = pad_to_common(self.frames)
            self.paths.append(write_mp4(self.out_dir / f"episode_{self.episode:03d}.mp4", frames, self.fps))
            self.episode += 1
        self.frames = []

    def close(self):
        self._flush()
        super().close()


class DomainRandomization(gym.Wrapper):
    """Domain randomization (``envs/randomization.py``) on an env made without it, the same as the
    ``randomization=`` / ``depth_noise=`` keyword arguments. It installs the env's ``Randomizer``
    rather than editing observations after ``reset``: camera jitter must come before the task is
    sampled, or the ground-truth mask would be of another image."""

    def __init__(self, env: gym.Env, randomization="light", depth_noise=None):
        super().__init__(env)
        from roboref.envs.randomization import make_randomizer

        u = env.unwrapped
        noise = u.config.depth_noise if depth_noise is None else depth_noise
        u.randomizer = make_randomizer(u.sim, u.config.camera, randomization, noise)


class DepthNoise(gym.ObservationWrapper):
    """RealSense-like depth noise or no depth (``envs/sensors.py``) on the observation's depth.
    Its generator is a child of the env's episode generator, made at each ``reset``: the same
    seed gives the same noise. ``info["depth_mode"]`` says ``exact``, ``noisy`` or ``none``
    (``none``: depth is all zeros, the observation space is unchanged)."""

    def __init__(self, env: gym.Env, depth_noise="realsense"):
        super().__init__(env)
        from roboref.envs.sensors import DepthNoiseConfig

        self.config = DepthNoiseConfig.from_any(depth_noise)
        self._rng: np.random.Generator | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        from roboref.envs.randomization import child_generator

        obs, info = self.env.reset(seed=seed, options=options)
        self._rng = child_generator(self.env.unwrapped.np_random)
        info["depth_mode"] = self.config.mode
        return self.observation(obs), info

    def observation(self, obs: dict) -> dict:
        from roboref.envs.sensors import apply_depth_noise

        if self._rng is None:
            raise RuntimeError("reset the env before stepping it")
        return {**obs, "depth": apply_depth_noise(obs["depth"], self._rng, self.config)}

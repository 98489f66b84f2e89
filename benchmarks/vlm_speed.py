"""Tiny-VLM speed on this CPU: HFVLMAgent latency on env observations, and SFT / GRPO step time.

Run: ``python benchmarks/vlm_speed.py [--steps 5]``. The tiny Qwen2-VL is built from a config (no
download); torch uses 1 thread, as the CPU configs do (2 threads were 60× slower when the 2 cores
were shared).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import torch

import roboref.envs  # noqa: F401
from roboref.agents.vlm import HFVLMAgent, build_tiny_qwen2vl
from roboref.cli import main as cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        build_tiny_qwen2vl(Path(d) / "tiny")
        env = gym.make("roboref/Refer-UR5e-v0")
        for tokens in (16, 48):
            agent = HFVLMAgent(Path(d) / "tiny", max_new_tokens=tokens)
            obs = [env.reset(seed=s)[0] for s in range(args.episodes)]
            agent.act(obs[0])
            t0 = time.perf_counter()
            for o in obs:
                agent.act(o)
            rows.append((f"agent.act, {tokens} new tokens", (time.perf_counter() - t0) / len(obs), "s/observation"))
            t0 = time.perf_counter()
            agent.act_batch(obs)
            rows.append(
                (
                    f"agent.act_batch of {len(obs)}, {tokens} new tokens",
                    (time.perf_counter() - t0) / len(obs),
                    "s/observation",
                )
            )
        env.close()
        for what in ("vlm-sft", "vlm-rft"):
            out = Path(d) / what
            assert (
                cli(
                    [
                        "train",
                        what,
                        f"out={out}",
                        f"trainer.max_steps={args.steps}",
                        "trainer.save_steps=1000",
                        "data.num_samples=8",
                    ]
                )
                == 0
            )
            s = json.loads((out / "summary.json").read_text())
            rows.append((f"{what} step (tiny model, CPU config)", s["seconds_per_step"], "s/step"))
    print("| what | time | unit |\n|---|---:|---|")
    for name, value, unit in rows:
        print(f"| {name} | {value:.4f} | {unit} |")


if __name__ == "__main__":
    main()

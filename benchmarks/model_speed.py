"""RefPoint speed on this CPU: inference latency at batch 1 and 32, SFT and RFT steps per second.

Run: ``python benchmarks/model_speed.py [--steps 20]``. Uses the shipped checkpoint for inference
and short SFT/RFT runs on a small fresh sample cache in a temp folder (generation time excluded).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import torch

import roboref.envs  # noqa: F401
from roboref.agents.refpoint import RefPointAgent
from roboref.agents.refpoint.rft import RefPointRFTConfig
from roboref.cli import main as cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    env = gym.make("roboref/Refer-UR5e-v0")
    obs = [env.reset(seed=s)[0] for s in range(32)]
    env.close()
    agent = RefPointAgent()
    agent.act(obs[0])
    rows = []
    t0 = time.perf_counter()
    for o in obs[:16]:
        agent.act(o)
    rows.append(("inference, batch 1", (time.perf_counter() - t0) / 16 * 1000, "ms per observation"))
    agent.act_batch(obs)
    t0 = time.perf_counter()
    agent.act_batch(obs)
    rows.append(("inference, batch 32", (time.perf_counter() - t0) / 32 * 1000, "ms per observation"))
    with tempfile.TemporaryDirectory() as d:
        common = [
            f"cache_dir={Path(d) / 'cache'}",
            "num_samples=128",
            "val_samples=32",
            "shard_size=64",
            "progress=false",
            "eval_every=100000",
            "save_every=100000",
        ]
        sft = Path(d) / "sft"
        assert cli(["train", "sft", f"out={sft}", "max_steps=2", *common]) == 0  # fills the cache
        t0 = time.perf_counter()
        assert cli(["train", "sft", f"out={Path(d) / 'sft2'}", f"max_steps={args.steps}", *common]) == 0
        rows.append(("SFT (batch 32)", args.steps / (time.perf_counter() - t0), "steps/s (incl. start-up)"))
        init = next(p for p in (sft / "best", sft / "model", sft) if (p / "config.json").exists())
        rft = RefPointRFTConfig()  # the CLI's defaults: the shipped recipe's batch and group size
        t0 = time.perf_counter()
        assert cli(["train", "rft", f"init={init}", f"out={Path(d) / 'rft'}", f"max_steps={args.steps}", *common]) == 0
        rows.append(
            (
                f"RFT ({rft.batch_size} prompts x {rft.group_size})",
                args.steps / (time.perf_counter() - t0),
                "steps/s (incl. start-up)",
            )
        )
    print("| what | value | unit |\n|---|---:|---|")
    for name, value, unit in rows:
        print(f"| {name} | {value:.2f} | {unit} |")


if __name__ == "__main__":
    main()

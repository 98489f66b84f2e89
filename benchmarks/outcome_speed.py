"""Speed of the simulator outcome reward on GRPO groups (issue 18), and its agreement with the
one-at-a-time path.

    flock /work/wt/bench.lock nice -n 0 .venv/bin/python benchmarks/outcome_speed.py
    .venv/bin/python benchmarks/outcome_speed.py --check 6 --group 8   # agreement only

A group is G points on one scene, drawn as RefPoint RFT draws them: from the shipped checkpoint's
heatmap at temperature 1 (``sampling.sample_points``), on seeds of the ``rft`` block with
``task_split="train"`` (the env RFT rebuilds). ``--oracle`` rows put every point inside the
ground-truth mask instead (uniform over its pixels): every point then needs an execution on the
one-at-a-time path, the worst case for the speed-up. Rates are completions/s of one process with
one thread (per core). The RFT rows time a RefPoint RFT step (16 prompts × 32 points, UR5e) with
and without the outcome term; with it, once on prompts the outcome table has never seen and once
with the table an earlier run over the same prompts filled (``roboref.outcome_table``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import roboref.envs  # noqa: E402,F401
from roboref.seeds import seed_of  # noqa: E402

ENV_KWARGS = {"task_split": "train"}


def make_groups(robot: str, kind: str, n: int, size: int, oracle: bool = False, start: int = 0) -> list[tuple]:
    """``n`` groups ``(seed, instruction, texts)`` of ``kind`` tasks from the ``rft`` seed block."""
    from roboref.agents.refpoint.agent import RefPointAgent
    from roboref.agents.refpoint.data import preprocess_depth, preprocess_rgb
    from roboref.agents.refpoint.sampling import sample_points
    from roboref.envs import env_id

    model = RefPointAgent().model
    c = model.config
    env = gym.make(env_id("refer", robot), **ENV_KWARGS)
    groups, i = [], start
    while len(groups) < n:
        seed = seed_of("rft", i)
        i += 1
        obs, _ = env.reset(seed=seed)
        task = env.unwrapped.task
        if task.kind != kind:
            continue
        gen = torch.Generator().manual_seed(seed)
        if oracle:
            rows, cols = np.nonzero(task.mask)
            pick = torch.randint(len(rows), (size,), generator=gen).numpy()
            h, w = task.mask.shape
            pts = [((cols[k] + 0.5) / w, (rows[k] + 0.5) / h) for k in pick]
        else:
            rgb = preprocess_rgb(obs["rgb"], c.image_size)[None]
            depth = preprocess_depth(obs["depth"], c.image_size, c.max_depth)[None]
            with torch.no_grad():
                out = model(*model.image_inputs(rgb, depth), *model.encode_text([task.instruction]))
            pts = sample_points(out.logits, size, gen)[1][0].tolist()
        groups.append((seed, task.instruction, [f"<answer>[({x:.4f}, {y:.4f})]</answer>" for x, y in pts]))
    env.close()
    return groups


def score(reward, groups: list[tuple]) -> tuple[list[float], list[str], float]:
    """Scores, reasons and wall seconds of one call on all ``groups``."""
    texts = [t for g in groups for t in g[2]]
    seeds = [g[0] for g in groups for _ in g[2]]
    instr = [g[1] for g in groups for _ in g[2]]
    t0 = time.perf_counter()
    scores = reward(completions=texts, seed=seeds, instruction=instr)
    return scores, list(reward.last_reasons), time.perf_counter() - t0


def group_rows(robot: str, size: int, n: int, reference: bool) -> None:
    from roboref.sim_reward import SimOutcomeReward

    print(f"\n| {robot} group of {size} | path | completions/s per core | mean outcome |\n|---|---|---:|---:|")
    fast = SimOutcomeReward(ENV_KWARGS, robot=robot)
    ref = SimOutcomeReward(ENV_KWARGS, robot=robot, batched=False)
    for kind in ("location", "placement"):
        for oracle in (False, True):
            groups = make_groups(robot, kind, n, size, oracle)
            score(fast, groups[:1])  # warm up: env, controller and IK built
            name = f"{'pick' if kind == 'location' else 'pick+place'}, {'oracle-mask' if oracle else 'RefPoint'} points"
            s, _, dt = score(fast, groups)
            print(f"| {name} | batched | {len(s) / dt:.2f} | {np.mean(s):.3f} |", flush=True)
            if reference:
                score(ref, groups[:1])
                s_ref, _, dt_ref = score(ref, groups)
                print(f"| {name} | one at a time | {len(s) / dt_ref:.2f} | {np.mean(s_ref):.3f} |", flush=True)
    fast.close()
    ref.close()


def check(robot: str, n: int, size: int) -> int:
    """Scores and reasons of both paths on the same groups; returns the number of disagreements."""
    from roboref.sim_reward import SimOutcomeReward

    fast = SimOutcomeReward(ENV_KWARGS, robot=robot)
    ref = SimOutcomeReward(ENV_KWARGS, robot=robot, batched=False)
    bad = total = same_reason = 0
    for kind in ("location", "placement"):
        groups = make_groups(robot, kind, n // 2, size, oracle=False)
        groups += make_groups(robot, kind, n - n // 2, size, oracle=True, start=1000)
        a, ra, _ = score(fast, groups)
        b, rb, _ = score(ref, groups)
        for x, y, p, q in zip(a, b, ra, rb, strict=True):
            total += 1
            bad += x != y
            same_reason += p == q or p.startswith("pointed at another object")
            if x != y:
                print(f"DIFFER {kind}: batched {x} ({p}) vs one-at-a-time {y} ({q})")
        print(f"{kind}: scores {sorted(set(a))}, mean {np.mean(a):.3f}")
    print(f"agreement of scores: {total - bad}/{total}; reasons equal (or 'another object'): {same_reason}/{total}")
    fast.close()
    ref.close()
    return bad


def cell_check(robot: str, n: int, size: int, grid: int) -> None:
    """Agreement and speed of ``place_grid`` sharing against executing every place point, on
    placement groups of RefPoint points and of oracle-mask points (every point inside)."""
    from roboref.sim_reward import SimOutcomeReward

    exact = SimOutcomeReward(ENV_KWARGS, robot=robot)
    shared = SimOutcomeReward(ENV_KWARGS, robot=robot, place_grid=grid)
    print(f"\n| placement, {size} points | place_grid | agreement | completions/s per core |\n|---|---:|---:|---:|")
    for oracle in (False, True):
        groups = make_groups(robot, "placement", n, size, oracle, start=2000)
        score(shared, groups[:1])
        a, _, dt_a = score(exact, groups)
        b, _, dt_b = score(shared, groups)
        agree = sum(x == y for x, y in zip(a, b, strict=True))
        name = "oracle-mask" if oracle else "RefPoint"
        print(f"| {name} | 0 | - | {len(a) / dt_a:.2f} |")
        print(f"| {name} | {grid} | {agree}/{len(a)} | {len(b) / dt_b:.2f} |", flush=True)
    exact.close()
    shared.close()


def rft_rows(steps: int, group: int, batch: int) -> None:
    """Seconds per RefPoint RFT step (UR5e prompts) without and with the outcome term."""
    from roboref.agents.refpoint.agent import shipped_checkpoint
    from roboref.agents.refpoint.data import SampleSet, build_cache, shard_specs
    from roboref.agents.refpoint.model import RefPointModel
    from roboref.agents.refpoint.rft import RefPointRFTConfig, train_rft

    c = RefPointModel.from_pretrained(shipped_checkpoint()).config
    tmp = Path(tempfile.mkdtemp(prefix="outcome-speed-"))
    try:
        n = batch * (steps + 1)
        specs = shard_specs(n, "rft", ["ur5e"], c.image_size, c.grid, c.max_depth, shard_size=n)
        val = shard_specs(4, "val", ["ur5e"], c.image_size, c.grid, c.max_depth, shard_size=4)
        paths = build_cache(val + specs, tmp / "cache", progress=False)
        train, val_set = SampleSet(paths[1:]), SampleSet(paths[:1])
        print(f"\n| RefPoint RFT step, {batch} prompts × {group} points (UR5e) | s/step | ratio |\n|---|---|---:|")
        base = None
        runs = (
            ("warm-up", {"outcome": 0.0}, ""),
            ("without outcome", {"outcome": 0.0}, ""),
            ("with outcome, table empty (prompts never seen)", {"outcome": 1.0}, ""),
            ("with outcome, table filled (prompts seen before)", {"outcome": 1.0}, "warm"),
        )
        for r, (name, weights, table) in enumerate(runs):
            per = []
            for s in (1, 1 + steps):  # the difference leaves out loading, validation and saving
                out = tmp / f"run{r}-steps{s}"
                path = out / "outcome_table.jsonl"
                if table:  # the cold run's table over the same prompts (the same points are drawn)
                    out.mkdir(parents=True)
                    shutil.copy(tmp / f"run2-steps{1 + steps}" / "outcome_table.jsonl", path)
                cfg = RefPointRFTConfig(
                    init=str(shipped_checkpoint()),
                    out=str(out),
                    cache_dir=str(tmp / "cache"),
                    robots=("ur5e",),
                    batch_size=batch,
                    group_size=group,
                    max_steps=s,
                    num_samples=n,
                    val_samples=4,
                    eval_every=10**6,
                    save_every=10**6,
                    log_every=1,
                    progress=False,
                    reward_weights=weights,
                    outcome_table=str(path),
                )
                t0 = time.perf_counter()
                train_rft(cfg, train_set=train, val_set=val_set)
                per.append(time.perf_counter() - t0)
            sec = (per[1] - per[0]) / steps
            if name == "warm-up":
                continue
            base = base or sec
            print(f"| {name} | {sec:.2f} | {sec / base:.1f}× |", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--robot", default="ur5e")
    p.add_argument("--group", type=int, default=32, help="points per group (G)")
    p.add_argument("--groups", type=int, default=3, help="groups per row")
    p.add_argument("--no-reference", action="store_true", help="skip the (slow) one-at-a-time rows")
    p.add_argument("--check", type=int, default=0, help="only check agreement on this many groups per kind")
    p.add_argument("--place-grid", type=int, default=0, help="only compare place_grid sharing (cells per side)")
    p.add_argument("--rft-steps", type=int, default=3)
    p.add_argument("--no-rft", action="store_true")
    p.add_argument("--rft-only", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(1)
    print(f"load average {os.getloadavg()}, {os.cpu_count()} cores, one process, one thread")
    if args.check:
        return int(check(args.robot, args.check, args.group) > 0)
    if args.place_grid:
        cell_check(args.robot, args.groups, args.group, args.place_grid)
        return 0
    if not args.rft_only:
        group_rows(args.robot, args.group, args.groups, not args.no_reference)
    if not args.no_rft:
        rft_rows(args.rft_steps, args.group, 16)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""RefPoint ablations on one data set and one compute budget, printed as a table.

  full        SFT with the separate depth encoder (``--target point``: the answer point's cell,
              as a point-labelled data set gives it; ``mask``: the whole region)
  no-depth    SFT without it (``model.use_depth=false``), same data, steps and seed
  rft         RFT from ``full`` with point + process rewards
  rft-no-proc RFT from ``full`` with the point reward only (``process_reward=false``)
  text-…      (``--compare-text``) SFT with the other instruction encoder (hash ↔ MiniLM)

Success = arg-max point inside the target mask on the validation samples (env seeds of the
``val`` block, task_split=train). Samples come from the shared shard cache.

    python benchmarks/refpoint_ablation.py --num-samples 4000 --steps 400 --rft-steps 60
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from roboref.agents.refpoint.metrics import read_metrics
from roboref.agents.refpoint.rft import RefPointRFTConfig, train_rft
from roboref.agents.refpoint.sft import RefPointSFTConfig, train_sft


def final_val(out: Path) -> float:
    rows = [r for r in read_metrics(out / "metrics.csv") if r["split"] == "val" and r["name"] == "success"]
    return rows[-1]["value"] if rows else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="outputs/refpoint/ablation")
    ap.add_argument("--cache-dir", default="outputs/refpoint/cache")
    ap.add_argument("--num-samples", type=int, default=4000)
    ap.add_argument("--val-samples", type=int, default=500)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--rft-steps", type=int, default=60)
    ap.add_argument("--rft-prompts", type=int, default=2000)
    ap.add_argument("--text-encoder", default="hash")
    ap.add_argument("--target", default="mask", choices=["point", "mask"], help="SFT heatmap target")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--compare-text", action="store_true", help="also SFT with the other text encoder")
    args = ap.parse_args()
    out = Path(args.out)
    base = RefPointSFTConfig(
        cache_dir=args.cache_dir,
        num_samples=args.num_samples,
        val_samples=args.val_samples,
        max_steps=args.steps,
        eval_every=args.steps,
        save_every=args.steps,
        progress=False,
        threads=args.threads,
        target=args.target,
        model={"text_encoder": args.text_encoder},
    )
    rows = []
    variants = [("full", {}), ("no-depth", {"use_depth": False})]
    if args.compare_text:
        other = "minilm" if args.text_encoder == "hash" else "hash"
        variants.append((f"text-{other}", {"text_encoder": other}))
    for name, model in variants:
        cfg = replace(base, out=str(out / name), model={**base.model, **model})
        t = time.time()
        train_sft(cfg)
        rows.append((name, "sft", args.steps, final_val(out / name), time.time() - t))
    rbase = RefPointRFTConfig(
        init=str(out / "full" / "final"),
        cache_dir=args.cache_dir,
        num_samples=args.rft_prompts,
        val_samples=args.val_samples,
        max_steps=args.rft_steps,
        eval_every=args.rft_steps,
        save_every=args.rft_steps,
        progress=False,
        threads=args.threads,
    )
    for name, process in (("rft", True), ("rft-no-proc", False)):
        cfg = replace(rbase, out=str(out / name), process_reward=process)
        t = time.time()
        train_rft(cfg)
        rows.append((name, "rft", args.rft_steps, final_val(out / name), time.time() - t))
    print(f"\nRefPoint ablation: {args.num_samples} SFT samples (target {args.target}), val n={args.val_samples}")
    print(f"| {'run':<12} | stage | steps | val success | time (s) |")
    print(f"|{'-' * 14}|-------|-------|-------------|----------|")
    for name, stage, steps, success, secs in rows:
        print(f"| {name:<12} | {stage:<5} | {steps:>5} | {success:>11.3f} | {secs:>8.0f} |")


if __name__ == "__main__":
    main()

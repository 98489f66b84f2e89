"""The ``roboref`` command: ``roboref <command> [key=value ...]`` with hydra overrides."""

from __future__ import annotations

import importlib
import sys

from omegaconf import OmegaConf

#: command -> (module, function); each has ``configs/<command>.yaml``.
COMMANDS = {
    "demo": ("roboref.demo", "run"),
    "datagen": ("roboref.datagen", "run"),
    "eval": ("roboref.evaluate", "run"),
    "report": ("roboref.report", "report"),
    "coeval": ("roboref.coeval", "run"),
    "video": ("roboref.video", "run"),
    "train": ("roboref.train", "resolve"),
    "export": ("roboref.export", "run"),
    "deploy": ("roboref.deploy.modes", "run"),
}
#: commands whose first argument picks what to run: ``module.resolve(args)`` returns
#: ``(config name, module, function, overrides)``.
DISPATCHERS = {"train": "roboref.train"}

USAGE = """usage: roboref <command> [key=value ...] [--cfg]

commands:
  demo      run an agent in the pointing env; writes an MP4, PNG frames and a summary
            e.g. roboref demo robot=g1 episodes=3 out=outputs/g1

  datagen   write a data set (parquet shards, resumable) from seeded pointing episodes
            e.g. roboref datagen out=DIR num_samples=N [split=train|val|test|unseen] [workers=N]
                 roboref datagen out=DIR preview=16   (a PNG grid of existing samples)
  eval      score an agent on a suite of seeded episodes (resumable; results.jsonl, summary.json)
            e.g. roboref eval agent=oracle suite=default episodes=20 workers=2 out=outputs/eval/oracle
  report    compare eval results side by side: roboref report dirs=[DIR1,DIR2]
  coeval    pointing agents x executors (ideal teleport vs the robot's controller), e.g.
            roboref coeval agents=[oracle,random] robots=[ur5e] episodes=10 out=outputs/coeval
  video     record an agent's episodes to MP4, e.g. roboref video env=pickplace robot=ur5e out=DIR
  deploy    run an agent towards a robot: mode=dry-run (FakeRobot) | shadow (read-only) | sim | live
            e.g. roboref deploy robot=ur5e mode=dry-run
                 roboref deploy robot=g1 mode=sim episodes=20 out=outputs/deploy/g1
  train     train a model: roboref train sft|rft|vlm-sft|vlm-rft|ppo out=DIR [key=value ...]
            e.g. roboref train vlm-rft out=outputs/rft reward.preset=roborefer prompt.reasoning=true
                 roboref train vlm-sft profile=gpu model=DIR data.data_dir=data/refer out=DIR
  export    write a seeded episode as a physics-ready OpenUSD stage (Isaac Sim), e.g.
            roboref export format=usd robot=ur5e|g1 seed=0 out=/tmp/scene.usd

Overrides use hydra syntax (key=value, nested.key=value, +new_key=value).
--cfg prints the composed config and exits."""


def compose(command: str, overrides: list[str]):
    """The hydra config ``configs/<command>.yaml`` with ``overrides`` applied."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

    with initialize_config_module(config_module="roboref.configs", version_base="1.3"):
        return hydra_compose(config_name=command, overrides=overrides)


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the ``roboref`` command itself, not a call from Python
        from roboref.parallel import fast_exit

        fast_exit()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"roboref: unknown command {command!r}; commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    config_name, (module, func) = command, COMMANDS[command]
    if command in DISPATCHERS:
        try:
            config_name, module, func, rest = importlib.import_module(DISPATCHERS[command]).resolve(rest)
        except ValueError as err:
            print(f"roboref {command}: {err}", file=sys.stderr)
            return 2
    show_cfg = "--cfg" in rest
    overrides = [a for a in rest if a != "--cfg"]
    bad = [a for a in overrides if "=" not in a]
    if bad:
        print(f"roboref {command}: arguments must be key=value overrides, got {bad}", file=sys.stderr)
        return 2
    try:
        cfg = compose(config_name, overrides)
    except Exception as err:  # hydra's override and config errors
        print(f"roboref {command}: bad config override: {err}", file=sys.stderr)
        return 2
    if show_cfg:
        print(OmegaConf.to_yaml(cfg))
        return 0
    try:
        return int(getattr(importlib.import_module(module), func)(cfg) or 0)
    except ValueError as err:
        print(f"roboref {command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""``roboref train <what> out=DIR …``: one entry point, one trainer per first argument.

Each trainer has ``configs/train_<what>.yaml`` (``-`` → ``_``); ``profile=NAME`` picks
``configs/train_<what>_<NAME>.yaml`` instead (``gpu``, ``multi_gpu``), which starts from the CPU
config and overrides it. Trainers register here by module path, so ``roboref --help`` and this
dispatcher never import torch or TRL. Other trainers (``sft``, ``rft`` of roboref's own model)
add a line to ``TRAINERS``.
"""

from __future__ import annotations

import importlib.resources

#: trainer name -> (module, function taking the composed config)
TRAINERS: dict[str, tuple[str, str]] = {
    "vlm-sft": ("roboref.agents.vlm.train", "sft_command"),
    "vlm-rft": ("roboref.agents.vlm.train", "rft_command"),
    "ppo": ("roboref.train_ppo", "run"),
    "sft": ("roboref.agents.refpoint.commands", "sft_command"),
    "rft": ("roboref.agents.refpoint.commands", "rft_command"),
}

USAGE = "roboref train {" + "|".join(TRAINERS) + "} out=DIR [profile=cpu|gpu|multi_gpu] [key=value ...]"


def _config_exists(name: str) -> bool:
    return importlib.resources.files("roboref.configs").joinpath(f"{name}.yaml").is_file()


def resolve(args: list[str]) -> tuple[str, str, str, list[str]]:
    """``[what, overrides…]`` → ``(config name, module, function, remaining overrides)``."""
    if not args or args[0] not in TRAINERS:
        got = repr(args[0]) if args else "nothing"
        raise ValueError(f"unknown trainer {got}; usage: {USAGE}")
    what, rest = args[0], list(args[1:])
    name = "train_" + what.replace("-", "_")
    profiles = [a for a in rest if a.startswith("profile=")]
    rest = [a for a in rest if not a.startswith("profile=")]
    if profiles:
        profile = profiles[-1].split("=", 1)[1]
        if profile not in ("", "cpu"):
            if not _config_exists(f"{name}_{profile}"):
                raise ValueError(f"no profile {profile!r} for {what} (no configs/{name}_{profile}.yaml)")
            name = f"{name}_{profile}"
    module, func = TRAINERS[what]
    return name, module, func, rest

"""roboref's pointing task in Isaac Lab: ``roboref/Isaac-Refer-UR5e-v0`` on an exported USD episode.

Importing this package needs nothing from Isaac: it registers the Gymnasium id (string entry
points) and holds the pure-python parts (``episode``: the stage's task, the reward through
``roboref.rewards``). The env itself (``refer_env``, ``refer_env_cfg``) imports Isaac Lab 3.0, which
runs only inside Isaac Sim on an RTX-class GPU; without it they raise ``ImportError`` saying so.
Run it with ``python -m roboref.isaac.run --usd FILE.usd`` (README: "OpenUSD and Isaac Sim").
"""

from __future__ import annotations

import importlib.util

import gymnasium as gym

ENV_ID = "roboref/Isaac-Refer-UR5e-v0"
ISAAC_MISSING = (
    "roboref.isaac's env needs Isaac Sim with an RTX GPU: Isaac Lab (the isaaclab package) is not importable here. "
    "On a machine with an RTX-class NVIDIA GPU and Python 3.12: pip install 'roboref[isaac]' "
    "(Isaac Sim 6.2, Isaac Lab 3.0); see the README section 'OpenUSD and Isaac Sim'"
)


def isaaclab_available() -> bool:
    return importlib.util.find_spec("isaaclab") is not None


def require_isaaclab() -> None:
    """Raise the ``ImportError`` that names what is missing and how to get it."""
    if not isaaclab_available():
        raise ImportError(ISAAC_MISSING)


def register() -> None:
    """Register ``roboref/Isaac-Refer-UR5e-v0`` (idempotent; imports nothing from Isaac)."""
    if ENV_ID not in gym.registry:
        gym.register(
            id=ENV_ID,
            entry_point="roboref.isaac.refer_env:make_env",
            disable_env_checker=True,
            kwargs={"env_cfg_entry_point": "roboref.isaac.refer_env_cfg:IsaacReferEnvCfg"},
        )


register()

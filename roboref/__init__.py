"""roboref: spatial referring in the loop (scenes, pointing envs, rewards, agents)."""

import os

# MuJoCo picks its GL backend at import time; headless EGL is the default for this package.
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])

__version__ = "0.1.0"

"""roboref: spatial referring in the loop (scenes, pointing envs, rewards, agents)."""

import os

# MuJoCo picks its GL backend at import time; headless EGL is the default for this package.
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])

#: Thread-pool sizes that the libraries a worker process loads read once, at load time: OpenMP
#: (torch), MKL, OpenBLAS (numpy) and Mesa's llvmpipe (software GL). Each defaults to one thread per
#: core in every process, so N processes would use the cores N times over; ``roboref.parallel``'s
#: workers and ``roboref.envs.make_vec``'s env processes share the cores out through them.
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "LP_NUM_THREADS")


def threads_per_process(processes: int) -> int:
    """The machine's cores shared out among ``processes`` processes, at least one thread each."""
    return max(1, (os.cpu_count() or 1) // max(1, processes))


__version__ = "0.1.0"

"""Run one exported episode in Isaac Sim: ``python -m roboref.isaac.run --usd FILE.usd``.

Launches the Isaac Sim app (Isaac Lab's ``AppLauncher``, cameras on), makes
``roboref/Isaac-Refer-UR5e-v0`` on the file, answers with the exported ground-truth point and a
far-off point, and prints the rewards: 1 and 0 with the binary reward when Isaac reproduces the
episode. Without Isaac Lab it exits with status 2 and says what is missing.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from roboref.isaac import ENV_ID, ISAAC_MISSING, isaaclab_available

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--usd", required=True, help="episode from `roboref export format=usd robot=ur5e`")
    parser.add_argument("--reward", default="binary", choices=["binary", "default", "roborefer"])
    if not isaaclab_available():
        parser.parse_args(argv)
        print(f"roboref.isaac.run: {ISAAC_MISSING}", file=sys.stderr)
        return 2
    from isaaclab.app import AppLauncher

    AppLauncher.add_app_launcher_args(parser)
    args = parser.parse_args(argv)
    args.enable_cameras = True
    app = AppLauncher(args).app
    try:
        import gymnasium as gym
        import torch

        import roboref.isaac.refer_env  # noqa: F401  (Isaac Lab imports need the running app)

        env = gym.make(ENV_ID, usd_path=args.usd)
        base = env.unwrapped
        base.cfg.reward = args.reward
        obs, _ = env.reset()
        task = base.episode.task
        far = (1.0 - task.point[0], 1.0 - task.point[1])
        for name, point in (("ground truth", task.point), ("far", far)):
            action = torch.tensor([point], dtype=torch.float32, device=base.device).repeat(base.num_envs, 1)
            _, reward, *_ = env.step(action)
            print(f"{name} point {tuple(round(v, 3) for v in point)}: reward {reward.tolist()}")
        rgb = obs["policy"]["rgb"]
        print(f"instruction: {task.instruction!r}; rgb {tuple(rgb.shape)}, depth {tuple(obs['policy']['depth'].shape)}")
        env.close()
    finally:
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

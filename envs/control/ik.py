"""Kinematic inverse kinematics with mink on a robot-only copy of the world.

The controllers plan joint waypoints here (robot alone, no objects, so the QP stays small and the
simulation's state is never touched), then drive the real position actuators along them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mink
import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from roboref.envs.robots import DEFAULT_MAX_FACES
from roboref.envs.world import compose_world

#: Position / orientation tolerances for a converged solve (m, rad).
POS_TOL = 2e-3
ROT_TOL = 2e-2


@dataclass(frozen=True)
class IKSolution:
    """Joint positions of the planned arm joints (in ``ArmIK.joint_names`` order) and residuals."""

    q: np.ndarray
    converged: bool
    pos_error: float
    rot_error: float


class ArmIK:
    """mink differential IK for one site, moving only the joints in ``joint_names``.

    Other robot joints are frozen with a ``DofFreezingTask`` constraint, joint limits come from
    ``ConfigurationLimit`` (shrunk by ``margin``), and a light ``PostureTask`` keeps redundant arms
    (the G1's 7-DoF arms) near the seed they start from.
    """

    def __init__(
        self,
        robot: str,
        site: str,
        joint_names: tuple[str, ...],
        table_size: tuple[float, float] = (1.0, 1.4),
        orientation_cost: float = 1.0,
        posture_cost: float = 1e-3,
        margin: float = 0.0,
        ranges: dict[str, tuple[float, float]] | None = None,
    ):
        spec = compose_world(robot, 0, (), table_size, DEFAULT_MAX_FACES)
        self.model = spec.compile()
        m = self.model
        for name, (lo, hi) in (ranges or {}).items():
            # narrower than the real limits: keeps solutions in one (e.g. elbow-up) branch
            j = m.joint(name).id
            m.jnt_range[j] = [max(lo, m.jnt_range[j][0]), min(hi, m.jnt_range[j][1])]
            m.jnt_limited[j] = 1
        self.site = site
        self.joint_names = tuple(joint_names)
        jids = [m.joint(n).id for n in self.joint_names]
        self.qadr = np.array([m.jnt_qposadr[j] for j in jids], int)
        dofs = [int(m.jnt_dofadr[j]) for j in jids]
        self.configuration = mink.Configuration(m)
        self.orientation_cost = orientation_cost
        self.task = mink.FrameTask(site, "site", position_cost=1.0, orientation_cost=orientation_cost)
        self.posture = mink.PostureTask(m, cost=posture_cost)
        frozen = [i for i in range(m.nv) if i not in dofs]
        self.constraints = [mink.DofFreezingTask(m, dof_indices=frozen)] if frozen else []
        self.limits = [mink.ConfigurationLimit(m, min_distance_from_limits=margin)]

    def full_q(self, robot_q: dict[str, float]) -> np.ndarray:
        """An IK-model configuration from ``{joint name: position}`` (missing joints at qpos0)."""
        m = self.model
        q = m.qpos0.copy()
        for name, val in robot_q.items():
            j = m.joint(name).id
            lo, hi = m.jnt_range[j] if m.jnt_limited[j] else (-np.inf, np.inf)
            q[m.jnt_qposadr[j]] = np.clip(val, lo, hi)  # contacts push joints a hair past limits
        return q

    def site_pose(self, q_full: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World position and 3×3 rotation of the site at configuration ``q_full``."""
        self.configuration.update(q_full)
        d = self.configuration.data
        s = d.site(self.site)
        return s.xpos.copy(), s.xmat.reshape(3, 3).copy()

    def solve(
        self,
        q_full: np.ndarray,
        pos: np.ndarray,
        rot: np.ndarray | None,
        max_iters: int = 200,
        dt: float = 0.05,
        max_step: float = 0.04,
        pos_tol: float = POS_TOL,
    ) -> tuple[np.ndarray, IKSolution]:
        """Iterate mink from ``q_full`` towards the site pose ``(pos, rot)``; ``rot=None`` is
        position-only. Far goals are approached through sub-goals at most ``max_step`` (m, and
        5 × ``max_step`` rad) apart, so each linearized step stays small and the arm does not
        run into its limits. ``pos_tol`` (m): how near counts as converged (via points in free
        space may pass looser than a grasp). Returns the new full configuration and the arm-joint
        solution."""
        cfg = self.configuration
        cfg.update(q_full.copy())
        self.posture.set_target(q_full)
        self.task.set_orientation_cost(self.orientation_cost if rot is not None else 0.0)
        p0, R0 = self.site_pose(q_full)
        goal_R = R0 if rot is None else np.asarray(rot, float)
        goal_p = np.asarray(pos, float)
        angle = float(Rotation.from_matrix(R0.T @ goal_R).magnitude())
        n_sub = max(1, int(math.ceil(max(np.linalg.norm(goal_p - p0) / max_step, angle / (5 * max_step)))))
        slerp = Slerp([0.0, 1.0], Rotation.from_matrix(np.stack([R0, goal_R])))
        pos_err = rot_err = np.inf
        for k in range(1, n_sub + 1):
            s = k / n_sub
            sub_R = slerp([s]).as_matrix()[0]
            target = mink.SE3.from_rotation_and_translation(mink.SO3.from_matrix(sub_R), p0 + (goal_p - p0) * s)
            self.task.set_target(target)
            for _ in range(max_iters if k == n_sub else 4):
                err = self.task.compute_error(cfg)
                pos_err, rot_err = float(np.linalg.norm(err[:3])), float(np.linalg.norm(err[3:]))
                if pos_err < pos_tol and (rot_err < ROT_TOL or rot is None):
                    break
                try:
                    vel = mink.solve_ik(
                        cfg,
                        [self.task, self.posture],
                        dt,
                        "daqp",
                        damping=1e-3,
                        limits=self.limits,
                        constraints=self.constraints,
                    )
                except mink.NoSolutionFound:
                    break
                cfg.integrate_inplace(vel, dt)
        if rot is None:
            rot_err = 0.0
        ok = pos_err < pos_tol and rot_err < ROT_TOL
        q = cfg.q.copy()
        return q, IKSolution(q[self.qadr].copy(), ok, pos_err, rot_err)

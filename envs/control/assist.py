"""The G1's explicit, off-by-default assisted grasp (``ControlConfig.assisted_grasp``).

Once a digit touches the object, the object keeps its pose relative to the palm, like a weld,
until release: after every control period its state is set from the palm's (gravity compensated
meanwhile). The model's structure is not changed, and every result carries ``assisted_grasp``,
so assisted numbers are never mistaken for physical ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from roboref.envs.sim import Sim


@dataclass(frozen=True)
class Hold:
    """Object ``slot`` held to body ``palm`` at ``rel_pos`` / ``rel_quat`` in the palm's frame."""

    slot: int
    palm: int
    rel_pos: np.ndarray
    rel_quat: np.ndarray


def hold(sim: Sim, slot: int, palm: int) -> Hold:
    """Start holding ``slot`` where it is now: p_rel = R_palmᵀ (p − p_palm), q_rel = q_palm⁻¹ q."""
    m, d = sim.model, sim.data
    pos, quat = sim.world.object_pose(d, slot)
    qinv = np.zeros(4)
    mujoco.mju_negQuat(qinv, d.xquat[palm])
    rel_pos, rel_quat = np.zeros(3), np.zeros(4)
    mujoco.mju_rotVecQuat(rel_pos, pos - d.xpos[palm], qinv)
    mujoco.mju_mulQuat(rel_quat, qinv, quat)
    m.body_gravcomp[sim.world.slot_body[slot]] = 1.0
    return Hold(slot, palm, rel_pos, rel_quat)


def follow(sim: Sim, h: Hold) -> None:
    """Set the held object's state from the palm's: p = p_palm + R_palm p_rel, q = q_palm q_rel,
    v = v_palm + ω_palm × (R_palm p_rel), no spin."""
    m, d = sim.model, sim.data
    mujoco.mj_kinematics(m, d)
    pos, quat = np.zeros(3), np.zeros(4)
    mujoco.mju_rotVecQuat(pos, h.rel_pos, d.xquat[h.palm])
    mujoco.mju_mulQuat(quat, d.xquat[h.palm], h.rel_quat)
    adr, dadr = sim.world.slot_qadr[h.slot], sim.world.slot_dadr[h.slot]
    d.qpos[adr : adr + 3] = d.xpos[h.palm] + pos
    d.qpos[adr + 3 : adr + 7] = quat
    vel = np.zeros(6)  # palm velocity (angular, linear) at the object's position
    mujoco.mj_objectVelocity(m, d, mujoco.mjtObj.mjOBJ_BODY, h.palm, vel, 0)
    d.qvel[dadr : dadr + 3] = vel[3:] + np.cross(vel[:3], pos)
    d.qvel[dadr + 3 : dadr + 6] = 0.0
    mujoco.mj_forward(m, d)


def release(sim: Sim, h: Hold) -> None:
    """Stop holding: the object falls under gravity again."""
    sim.model.body_gravcomp[sim.world.slot_body[h.slot]] = 0.0

"""A controller's state in one simulation (``Binding``) and in one ``execute`` call (``Run``).

``Controller.bind(sim)`` resolves the ``RobotSpec``'s names (sites, joints, actuators, hand bodies)
to indices of ``sim``'s compiled world once and keeps the result, with what the controller
remembers between calls (the held object, the arm's last joint targets), on ``sim`` itself: state
belongs to the simulation it describes, so a controller used with two sims keeps two states and
none outlives its sim.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import mujoco
import numpy as np

from roboref.envs.control.ik import ArmIK
from roboref.envs.robots import ArmSpec, RobotSpec
from roboref.envs.sim import Sim
from roboref.envs.world import ROBOT_PREFIX


def model_id(model: mujoco.MjModel, kind: str, name: str, robot: str, what: str) -> int:
    """The id of the ``kind`` (``site``, ``joint``, ``actuator``, ``body``) that the spec's field
    ``what`` names (``robot/`` + ``name`` in the world); a missing name raises a ``ValueError``
    naming the robot and the field."""
    try:
        return int(getattr(model, kind)(ROBOT_PREFIX + name).id)
    except KeyError:
        raise ValueError(
            f"robot {robot!r}: RobotSpec field {what} names {kind} {name!r}, which its model does not have"
        ) from None


def actuator_for_joint(model: mujoco.MjModel, joint: int) -> int:
    """The actuator whose transmission is joint ``joint`` (position servos drive the arm)."""
    for a in range(model.nu):
        if model.actuator_trnid[a, 0] == joint and model.actuator_trntype[a] == mujoco.mjtTrn.mjTRN_JOINT:
            return a
    raise ValueError(f"no actuator drives joint {model.joint(joint).name!r}")


@dataclass
class ArmRig:
    """One arm of the spec resolved in a world: names (with the world's prefix), indices, IK.

    ``lead`` is each arm servo's damping lag kv/kp (s): a position servo with
    ``ctrl = q + lead · q̇`` tracks a moving target without lagging behind it.
    """

    spec: ArmSpec
    site: str
    base_body: str
    joints: tuple[str, ...]
    ik: ArmIK
    act: np.ndarray  # actuators of ``joints``
    qadr: np.ndarray  # qpos addresses of ``joints``
    lead: np.ndarray
    hand_act: np.ndarray  # actuators of the hand, in ``spec.hand_actuators`` order
    hand_geoms: dict[str, set[int]]  # colliding geoms of each ``spec.hand_bodies`` group


def make_rig(
    sim: Sim,
    robot: RobotSpec,
    index: int,
    ik_ranges: dict[str, tuple[float, float]] | None = None,
    posture_cost: float = 1e-3,
) -> ArmRig:
    """Resolve ``robot.arms[index]`` in ``sim``'s world and build its IK (``ik_ranges`` keyed by
    the spec's joint names narrow the IK's joint limits to one solution branch)."""
    m, arm = sim.model, robot.arms[index]
    field_ = f"arms[{index}]"
    site_id = model_id(m, "site", arm.site, robot.name, f"{field_}.site")
    model_id(m, "body", arm.base_body, robot.name, f"{field_}.base_body")
    if arm.palm_body:
        model_id(m, "body", arm.palm_body, robot.name, f"{field_}.palm_body")
    jids = [model_id(m, "joint", j, robot.name, f"{field_}.joints") for j in arm.joints]
    act = np.array([actuator_for_joint(m, j) for j in jids], int)
    hand_act = np.array(
        [model_id(m, "actuator", a, robot.name, f"{field_}.hand_actuators") for a in arm.hand_actuators], int
    )
    groups: dict[str, set[int]] = {k: set() for k in arm.hand_bodies}
    for g in sim.world.robot_geoms:
        if not (m.geom_contype[g] or m.geom_conaffinity[g]):
            continue
        body = m.body(m.geom_bodyid[g]).name
        for k, prefixes in arm.hand_bodies.items():
            if any(body.startswith(ROBOT_PREFIX + p) for p in prefixes):
                groups[k].add(int(g))
    for k, geoms in groups.items():
        if not geoms:
            raise ValueError(f"robot {robot.name!r}: RobotSpec field {field_}.hand_bodies[{k!r}] matches no geom")
    joints = tuple(m.joint(j).name for j in jids)
    ranges = {ROBOT_PREFIX + j: r for j, r in (ik_ranges or {}).items()}
    ik = ArmIK(robot.name, m.site(site_id).name, joints, sim.world.table_size, posture_cost=posture_cost, ranges=ranges)
    kp, kv = -m.actuator_biasprm[act, 1], -m.actuator_biasprm[act, 2]
    return ArmRig(
        spec=arm,
        site=m.site(site_id).name,
        base_body=ROBOT_PREFIX + arm.base_body,
        joints=joints,
        ik=ik,
        act=act,
        qadr=np.array([m.jnt_qposadr[j] for j in jids], int),
        lead=np.where(kp > 0, kv / np.maximum(kp, 1e-9), 0.0),
        hand_act=hand_act,
        hand_geoms=groups,
    )


@dataclass
class Binding:
    """A controller's state in one ``Sim``: the resolved arms, the arm acting now, and what
    carries over between ``execute`` calls (the held object and the carry's planned start)."""

    sim: Sim
    arms: dict[str, ArmRig]
    arm: ArmRig  # the arm acting now
    robot_geoms: set[int]
    table_geoms: set[int]
    robot_joints: tuple[str, ...]  # world joint names at ``world.robot_qadr`` (IK configurations)
    held: int = -1  # object slot held between calls, -1 when empty
    carry_start: tuple | None = None  # (IK configuration, site position, rotation) after a pick
    q_des: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the arm's desired joints now
    bearing: float = 0.0  # of the current pick's target from the arm's base body (rad)


def make_binding(sim: Sim, rigs: list[ArmRig], cls: type[Binding] = Binding, **extra) -> Binding:
    """A ``cls`` binding of ``rigs`` (the first one acting) to ``sim``."""
    m, w = sim.model, sim.world
    robot_joints = tuple(m.joint(j).name for j in range(m.njnt) if m.joint(j).name.startswith(ROBOT_PREFIX))
    return cls(
        sim=sim,
        arms={r.spec.name: r for r in rigs},
        arm=rigs[0],
        robot_geoms=set(w.robot_geoms.tolist()),
        table_geoms=set(w.table_geoms.tolist()),
        robot_joints=robot_joints,
        **extra,
    )


@dataclass
class Run:
    """Book-keeping of one ``execute`` call: its sim-time budget, phase and outcome flags."""

    b: Binding
    t_sim0: float
    t_wall0: float
    budget: float
    grasped: bool = False
    lifted: bool = False
    placed: bool = False
    stable: bool = False
    slot: int = -1
    lift_height: float = 0.0
    place_target: tuple | None = None
    distance: float | None = None
    phase: str = "start"

    @classmethod
    def start(cls, b: Binding, budget: float) -> Run:
        return cls(b, b.sim.data.time, time.perf_counter(), budget)

    @property
    def sim(self) -> Sim:
        return self.b.sim

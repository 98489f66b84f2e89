"""The compiled MuJoCo world: table, robot, cameras and a pool of object slots.

Compiling a model and creating a GL context cost ~0.1–1 s, so a world is compiled once per env
with ``n_slots`` object slots. ``World.apply(data, spec)`` shows a ``SceneSpec`` by rewriting the
slots' geom and body arrays (type, size, pose, colour, mass properties) in place; unused slots are
hidden (geom group 5, no contacts, gravity-compensated, parked under the floor).

Mesh-variant objects (``assets.variants``): a world made with ``meshes=True`` also compiles the
whole mesh bank (with convex hulls, for collision), and a slot geom becomes a mesh by taking the
type, mesh id (``geom_dataid``), pose, size, ``rbound`` and ``aabb`` that the same mesh compiles to
in a probe model. MuJoCo renders meshes from their compiled vertices (``geom_size`` does not scale
them), so meshes come in fixed sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import mujoco
import numpy as np

from roboref.assets.meshgen import Mesh
from roboref.assets.objects import MAX_PARTS, PALETTE, Part, get_category
from roboref.assets.variants import mesh_bank, variant_parts
from roboref.envs.camera import SEG_ROBOT, SEG_TABLE, CameraSpec
from roboref.envs.randomization_assets import add_randomization_assets
from roboref.envs.robots import DEFAULT_MAX_FACES, get_robot
from roboref.envs.scene import TABLE_HEIGHT, ObjectSpec, SceneSpec

ROBOT_PREFIX = "robot/"
HIDDEN_GROUP = 5
VISIBLE_GROUP = 2
#: The robot's visual geoms (its meshes are most of a frame's triangles): shown like
#: ``VISIBLE_GROUP``, kept apart so that the renderer can draw everything else alone for a cheap
#: segmentation pass (``camera.Renderer``).
ROBOT_MESH_GROUP = 1

_GEOM_TYPES = {
    "box": mujoco.mjtGeom.mjGEOM_BOX,
    "cylinder": mujoco.mjtGeom.mjGEOM_CYLINDER,
    "capsule": mujoco.mjtGeom.mjGEOM_CAPSULE,
    "sphere": mujoco.mjtGeom.mjGEOM_SPHERE,
    "ellipsoid": mujoco.mjtGeom.mjGEOM_ELLIPSOID,
    "mesh": mujoco.mjtGeom.mjGEOM_MESH,
}
#: Prefix of the geoms that make MuJoCo compute the bank meshes' convex hulls (it does so only for
#: meshes a colliding geom uses); they sit far below the floor and lose their contact bits after
#: compiling, so they never collide or render.
BANK_PREFIX = "meshbank/"
_TABLE_RGBA = (0.78, 0.64, 0.47, 1.0)


def compose_world(
    robot: str,
    n_slots: int,
    cameras: tuple[CameraSpec, ...],
    table_size: tuple[float, float],
    max_faces: int = DEFAULT_MAX_FACES,
    meshes: bool = False,
) -> mujoco.MjSpec:
    """An ``MjSpec`` of floor, table, lights, cameras, the robot (prefixed ``robot/``) and slots;
    with ``meshes`` also every object mesh (``variants.mesh_bank``), for mesh-variant objects."""
    rspec = get_robot(robot)
    spec = mujoco.MjSpec()
    spec.modelname = f"roboref_{robot}"
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = 10
    spec.option.timestep = 0.002
    spec.stat.extent = 2.0  # fixes the depth-buffer near/far planes, whatever the scene holds
    spec.stat.center = [0.0, 0.0, 0.8]
    width = max([640] + [c.width for c in cameras])
    height = max([480] + [c.height for c in cameras])
    spec.visual.global_.offwidth = width
    spec.visual.global_.offheight = height
    spec.visual.headlight.ambient = [0.35, 0.35, 0.35]
    spec.visual.headlight.diffuse = [0.45, 0.45, 0.45]
    spec.visual.headlight.specular = [0.05, 0.05, 0.05]

    wb = spec.worldbody
    wb.add_light(
        name="sun",
        pos=[0.3, -0.4, 3.0],
        dir=[-0.1, 0.15, -1.0],
        diffuse=[0.6, 0.6, 0.6],
        specular=[0.1, 0.1, 0.1],
        castshadow=True,
    )
    wb.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[3, 3, 1.0], rgba=[0.42, 0.44, 0.47, 1])
    tx, ty = table_size[0] / 2, table_size[1] / 2
    thick = 0.04
    wb.add_geom(
        name="table",
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=[tx, ty, thick / 2],
        pos=[0, 0, TABLE_HEIGHT - thick / 2],
        rgba=list(_TABLE_RGBA),
        group=VISIBLE_GROUP,
        friction=[1.0, 0.01, 0.002],
    )
    leg_h = (TABLE_HEIGHT - thick) / 2
    for i, (sx, sy) in enumerate(((1, 1), (1, -1), (-1, 1), (-1, -1))):
        wb.add_geom(
            name=f"table_leg{i}",
            type=mujoco.mjtGeom.mjGEOM_BOX,
            size=[0.025, 0.025, leg_h],
            pos=[sx * (tx - 0.05), sy * (ty - 0.05), leg_h],
            rgba=[0.45, 0.35, 0.25, 1],
            group=VISIBLE_GROUP,
        )
    for cam in cameras:
        wb.add_camera(
            name=cam.name,
            pos=list(cam.pos),
            quat=list(cam.mj_quat()),
            fovy=cam.fovy,
            resolution=[cam.width, cam.height],
        )

    mount = np.array(rspec.mount_pos, float) + [0, 0, TABLE_HEIGHT]
    if rspec.pedestal is not None:
        radius, h = rspec.pedestal
        wb.add_geom(
            name="pedestal",
            type=mujoco.mjtGeom.mjGEOM_CYLINDER,
            size=[radius, h / 2, 0],
            pos=[mount[0], mount[1], mount[2] - h / 2],
            rgba=[0.25, 0.25, 0.28, 1],
            group=VISIBLE_GROUP,
        )
    frame = wb.add_frame(pos=list(mount), quat=[np.cos(rspec.mount_yaw / 2), 0, 0, np.sin(rspec.mount_yaw / 2)])
    spec.attach(rspec.load(max_faces), frame=frame, prefix=ROBOT_PREFIX)

    for k in range(n_slots):
        body = wb.add_body(name=f"obj{k}", pos=[0, 0, -1.0 - 0.2 * k], gravcomp=1.0)
        # A non-trivial inertial frame and geom poses keep MuJoCo on its general code paths, so
        # any object's mass properties and part poses can be written here at reset.
        body.explicitinertial = True
        body.mass = 0.1
        body.ipos = [0.001, 0.002, 0.003]
        body.iquat = list(np.array([0.9, 0.1, 0.2, 0.3]) / np.linalg.norm([0.9, 0.1, 0.2, 0.3]))
        body.inertia = [1e-4, 2e-4, 3e-4]
        body.add_freejoint(name=f"obj{k}/joint")
        for j in range(MAX_PARTS):
            body.add_geom(
                name=f"obj{k}/g{j}",
                type=mujoco.mjtGeom.mjGEOM_BOX,
                size=[0.01, 0.01, 0.01],
                pos=[0.001 * (j + 1), 0.002, 0.003],
                quat=[0.99, 0.1, 0, 0],
                group=HIDDEN_GROUP,
                contype=0,
                conaffinity=0,
                condim=6,
                friction=[1.0, 0.01, 0.0005],
                density=0,
            )
    if meshes:
        for i, (name, mesh) in enumerate(mesh_bank().items()):
            _add_mesh(spec, name, mesh)
            wb.add_geom(
                name=BANK_PREFIX + name,
                type=mujoco.mjtGeom.mjGEOM_MESH,
                meshname=name,
                pos=[0.0, 0.0, -50.0 - 0.5 * i],
                group=HIDDEN_GROUP,
                contype=1,
                conaffinity=0,
            )
    add_randomization_assets(spec, HIDDEN_GROUP)
    return spec


def _add_mesh(spec: mujoco.MjSpec, name: str, mesh: Mesh) -> None:
    """Add ``mesh`` with exact (volume) inertia: the world and ``object_props`` must agree on the
    frame MuJoCo centres it in, so both add meshes only through here."""
    m = spec.add_mesh(name=name, uservert=mesh[0].ravel().tolist(), userface=mesh[1].ravel().tolist())
    m.inertia = mujoco.mjtMeshInertia.mjMESH_INERTIA_EXACT


@dataclass
class _Props:
    """Mass properties and compiled part geometry of one object, from a tiny probe model."""

    geom_type: np.ndarray
    geom_size: np.ndarray
    geom_pos: np.ndarray
    geom_quat: np.ndarray
    geom_rgba: np.ndarray
    geom_rbound: np.ndarray
    geom_aabb: np.ndarray
    geom_mesh: tuple[str | None, ...]  # the bank mesh of each mesh part, else None
    mass: float
    inertia: np.ndarray
    ipos: np.ndarray
    iquat: np.ndarray


def object_parts(obj: ObjectSpec) -> tuple[tuple[Part, ...], dict[str, Mesh]]:
    """The parts of ``obj`` (its category's primitives, or its mesh variant's meshes) and the
    meshes those parts name."""
    if obj.variant:
        return variant_parts(obj.category, obj.variant, obj.size)
    return get_category(obj.category).parts(tuple(obj.size)), {}


def object_props(obj: ObjectSpec) -> _Props:
    """Compile one object alone (~0.4 ms with primitives, a few with meshes) to get exact MuJoCo
    mass properties and the compiled geom poses (MuJoCo re-centres a mesh on its own frame)."""
    return objects_props([obj])[0]


def objects_props(objs: list[ObjectSpec]) -> list[_Props]:
    """``object_props`` of several objects from one probe model, one body each: a compile costs
    mostly its fixed overhead, and MuJoCo computes each body's mass properties and each geom's
    bounds from that body's geoms alone, so the values are the same bit for bit (tested)."""
    spec = mujoco.MjSpec()
    added: set[str] = set()
    for k, obj in enumerate(objs):
        cat = get_category(obj.category)
        parts, meshes = object_parts(obj)
        for name, mesh in meshes.items():
            if name not in added:  # bank names: one name, one mesh
                _add_mesh(spec, name, mesh)
                added.add(name)
        body = spec.worldbody.add_body(name=f"o{k}")
        body.add_freejoint()
        main = PALETTE[obj.color]
        for p in parts:
            rgb = main if p.color is None else PALETTE[p.color]
            body.add_geom(
                type=_GEOM_TYPES[p.type],
                size=list(p.size),
                pos=list(p.pos),
                quat=list(p.quat),
                rgba=[*rgb, 1.0],
                density=cat.density,
                meshname=p.mesh or "",
            )
    m = spec.compile()
    out = []
    for k in range(len(objs)):
        g = np.flatnonzero(m.geom_bodyid == k + 1)
        b = k + 1
        out.append(
            _Props(
                geom_type=m.geom_type[g].copy(),
                geom_size=m.geom_size[g].copy(),
                geom_pos=m.geom_pos[g].copy(),
                geom_quat=m.geom_quat[g].copy(),
                geom_rgba=m.geom_rgba[g].copy(),
                geom_rbound=m.geom_rbound[g].copy(),
                geom_aabb=m.geom_aabb[g].copy(),
                geom_mesh=tuple(m.mesh(int(i)).name if i >= 0 else None for i in m.geom_dataid[g]),
                mass=float(m.body_mass[b]),
                inertia=m.body_inertia[b].copy(),
                ipos=m.body_ipos[b].copy(),
                iquat=m.body_iquat[b].copy(),
            )
        )
    return out


class World:
    """A compiled world and the indices the rest of roboref needs."""

    def __init__(
        self,
        robot: str = "ur5e",
        n_slots: int = 15,
        cameras: tuple[CameraSpec, ...] | None = None,
        table_size: tuple[float, float] = (1.0, 1.4),
        max_faces: int = DEFAULT_MAX_FACES,
        meshes: bool = False,
    ):
        from roboref.envs.scene import DEFAULT_CAMERAS

        self.robot = get_robot(robot)
        self.cameras = tuple(cameras) if cameras is not None else DEFAULT_CAMERAS
        self.table_size = tuple(table_size)
        self.n_slots = n_slots
        self.spec = compose_world(robot, n_slots, self.cameras, self.table_size, max_faces, meshes)
        self.model = self.spec.compile()
        m = self.model
        #: Bank mesh name -> mesh id; empty unless compiled with ``meshes=True``.
        self.mesh_ids: dict[str, int] = {}
        if meshes:
            bank_geoms = [m.geom(BANK_PREFIX + name).id for name in mesh_bank()]
            m.geom_contype[bank_geoms] = 0
            self.mesh_ids = {name: m.mesh(name).id for name in mesh_bank()}
        self.slot_body = np.array([m.body(f"obj{k}").id for k in range(n_slots)], int)
        self.slot_geoms = np.array(
            [[m.geom(f"obj{k}/g{j}").id for j in range(MAX_PARTS)] for k in range(n_slots)], int
        ).reshape(n_slots, MAX_PARTS)
        self.slot_qadr = np.array([m.jnt_qposadr[m.joint(f"obj{k}/joint").id] for k in range(n_slots)], int)
        self.slot_dadr = np.array([m.jnt_dofadr[m.joint(f"obj{k}/joint").id] for k in range(n_slots)], int)
        names = [m.geom(i).name for i in range(m.ngeom)]
        robot_bodies = {i for i in range(m.nbody) if m.body(i).name.startswith(ROBOT_PREFIX)}
        self.robot_geoms = np.array(
            [i for i in range(m.ngeom) if m.geom_bodyid[i] in robot_bodies or names[i] == "pedestal"], int
        )
        self.table_geoms = np.array([i for i, n in enumerate(names) if n.startswith("table")], int)
        # Contact bits: world and objects are type 1 / affinity 3; robot geoms type 2 / affinity 1,
        # so the robot touches everything but itself (attached Menagerie parts overlap at rest).
        robot_colliding = self.robot_geoms[
            (m.geom_contype[self.robot_geoms] != 0) | (m.geom_conaffinity[self.robot_geoms] != 0)
        ]
        m.geom_contype[robot_colliding] = 2
        m.geom_conaffinity[robot_colliding] = 1
        world_geoms = [i for i in range(m.ngeom) if i not in set(self.robot_geoms) and m.geom_contype[i] != 0]
        m.geom_conaffinity[world_geoms] = 3
        labels = np.zeros(m.ngeom, np.uint8)
        labels[self.robot_geoms] = SEG_ROBOT
        labels[self.table_geoms] = SEG_TABLE
        for k in range(n_slots):
            labels[self.slot_geoms[k]] = k + 1
        self.geom_labels = labels
        m.geom_group[self.robot_geoms[m.geom_group[self.robot_geoms] == VISIBLE_GROUP]] = ROBOT_MESH_GROUP
        key = m.key(f"{ROBOT_PREFIX}home")
        robot_joints = [j for j in range(m.njnt) if m.joint(j).name.startswith(ROBOT_PREFIX)]
        self.robot_qadr = np.array([m.jnt_qposadr[j] for j in robot_joints], int)
        self.robot_dadr = np.array([m.jnt_dofadr[j] for j in robot_joints], int)
        self.home_qpos = key.qpos[self.robot_qadr].copy()
        self.home_ctrl = key.ctrl.copy()
        self._props: dict[tuple, _Props] = {}

    def _key(self, obj: ObjectSpec) -> tuple:
        # a mesh variant's colour is painted on the cached geometry (props_many): not in its key
        return (obj.category, obj.variant, "" if obj.variant else obj.color, tuple(obj.size))

    def props(self, obj: ObjectSpec) -> _Props:
        return self.props_many([obj])[0]

    def props_many(self, objs: list[ObjectSpec] | tuple[ObjectSpec, ...]) -> list[_Props]:
        """Each object's ``_Props``, the missing ones compiled together in one probe model.
        A probe costs ~0.35 ms of fixed overhead per compile (10 primitives: 3.5 ms one by one,
        0.9 ms together), and mesh variants come in few shapes: cache those without the colour
        and paint the cached geometry (the rgba MuJoCo would compile, float32)."""
        keys = [self._key(o) for o in objs]
        missing = {k: o for k, o in zip(keys, objs, strict=True) if k not in self._props}
        if missing:
            if len(self._props) + len(missing) > 4096:
                self._props.clear()
            self._props.update(zip(missing, objects_props(list(missing.values())), strict=True))
        out = []
        for key, obj in zip(keys, objs, strict=True):
            p = self._props[key]
            if obj.variant:
                main = PALETTE[obj.color]
                rgb = [main if part.color is None else PALETTE[part.color] for part in object_parts(obj)[0]]
                p = replace(p, geom_rgba=np.array([[*c, 1.0] for c in rgb], dtype=np.float32))
            out.append(p)
        return out

    def apply(self, data: mujoco.MjData, spec: SceneSpec) -> None:
        """Show ``spec``'s objects in the slots and put the robot at home (resets ``data``)."""
        m = self.model
        if len(spec.objects) > self.n_slots:
            raise ValueError(f"scene has {len(spec.objects)} objects but the world has only {self.n_slots} slots")
        if spec.robot != self.robot.name:
            raise ValueError(f"scene is for robot {spec.robot!r}, world has {self.robot.name!r}")
        if not self.mesh_ids and any(o.variant for o in spec.objects):
            raise ValueError(
                "scene has mesh-variant objects but this world was compiled without the mesh bank: "
                "make it with World(..., meshes=True) (envs: object_variants='mesh' or 'mixed')"
            )
        props = self.props_many(spec.objects)
        for k in range(self.n_slots):
            geoms, body = self.slot_geoms[k], self.slot_body[k]
            m.geom_group[geoms] = HIDDEN_GROUP
            m.geom_contype[geoms] = 0
            m.geom_conaffinity[geoms] = 0
            m.geom_type[geoms] = mujoco.mjtGeom.mjGEOM_BOX
            m.geom_size[geoms] = 0.005
            m.geom_rbound[geoms] = 0.009
            m.geom_aabb[geoms] = [0, 0, 0, 0.005, 0.005, 0.005]
            if self.mesh_ids:
                m.geom_dataid[geoms] = -1
            if k >= len(spec.objects):
                m.body_gravcomp[body] = 1.0
                m.body_mass[body] = 0.1
                m.body_inertia[body] = [1e-4, 1e-4, 1e-4]
                continue
            p = props[k]
            n = len(p.geom_type)
            g = geoms[:n]
            m.geom_type[g] = p.geom_type
            m.geom_size[g] = p.geom_size
            m.geom_pos[g] = p.geom_pos
            m.geom_quat[g] = p.geom_quat
            m.geom_rgba[g] = p.geom_rgba
            m.geom_rbound[g] = p.geom_rbound
            m.geom_aabb[g] = p.geom_aabb
            if self.mesh_ids:
                m.geom_dataid[g] = [self.mesh_ids[name] if name else -1 for name in p.geom_mesh]
            m.geom_group[g] = VISIBLE_GROUP
            m.geom_contype[g] = 1
            m.geom_conaffinity[g] = 3
            m.body_gravcomp[body] = 0.0
            m.body_mass[body] = p.mass
            m.body_inertia[body] = p.inertia
            m.body_ipos[body] = p.ipos
            m.body_iquat[body] = p.iquat
        mujoco.mj_setConst(m, data)  # mass-dependent constants; also resets qpos to qpos0
        mujoco.mj_resetData(m, data)
        for k in range(self.n_slots):
            adr = self.slot_qadr[k]
            if k < len(spec.objects):
                o = spec.objects[k]
                data.qpos[adr : adr + 3] = o.pos
                data.qpos[adr + 3 : adr + 7] = o.quat
            else:
                data.qpos[adr : adr + 3] = [0.0, 0.0, -1.0 - 0.2 * k]
                data.qpos[adr + 3 : adr + 7] = [1, 0, 0, 0]
        data.qpos[self.robot_qadr] = self.home_qpos
        data.ctrl[:] = self.home_ctrl
        mujoco.mj_forward(m, data)

    def object_pose(self, data: mujoco.MjData, k: int) -> tuple[np.ndarray, np.ndarray]:
        adr = self.slot_qadr[k]
        return data.qpos[adr : adr + 3].copy(), data.qpos[adr + 3 : adr + 7].copy()


def build(spec: SceneSpec, max_faces: int = DEFAULT_MAX_FACES) -> tuple[World, mujoco.MjData]:
    """A world sized for ``spec`` with ``spec`` applied: ``(world, data)``; ``world.model`` is the
    ``MjModel``. Envs keep one ``World`` and call ``apply`` per scene instead (no recompiling)."""
    meshes = any(o.variant for o in spec.objects)
    world = World(spec.robot, max(1, len(spec.objects)), spec.cameras, spec.table_size, max_faces, meshes)
    data = mujoco.MjData(world.model)
    world.apply(data, spec)
    return world, data

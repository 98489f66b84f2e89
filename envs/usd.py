"""Export a seeded roboref episode to a physics-ready OpenUSD stage (the bridge to Isaac Sim).

``export_episode(env, path)`` writes what the env shows after ``reset(seed=…)``: table and floor
(static colliders), each settled object (a rigid body with MuJoCo's mass properties, one collider
per part, its colour and friction), the robot (an articulation with joints and drives, see
``usd_robot``), every camera (focal length, aperture and clipping from ``K``), and the task
(instruction, kind, answer point, ground-truth 3D region) as custom data on the stage.

Stage conventions: z up, metres, kilograms; ``/World`` is the default prim; MuJoCo names are kept
in ``customData["mujoco:…"]``. Needs ``usd-core`` (``pip install 'roboref[usd]'``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from roboref.envs.camera import camera_pose, unproject
from roboref.envs.usd_geom import Materials, add_geom, colliding, pxr_modules, set_mass, set_pose
from roboref.envs.usd_robot import add_robot
from roboref.envs.world import ROBOT_PREFIX, VISIBLE_GROUP, World

#: USD cameras look down -Z with +Y up; OpenCV (roboref's ``T_world_cam``) down +Z with +Y down.
CV_TO_USD = np.diag([1.0, -1.0, -1.0])
#: Film back width (mm, USD's default 35 mm-style aperture); focal length follows from ``K``.
HORIZONTAL_APERTURE = 20.955
WORLD = "/World"
#: A sibling of the default prim (as NVIDIA's converter writes it): opening the file gives physics,
#: referencing ``/World`` into another stage (Isaac Lab's scene, which has its own) does not.
PHYSICS_SCENE = "/PhysicsScene"


@dataclass(frozen=True)
class ExportReport:
    """What one export wrote: the file, prim counts and its wall time."""

    path: str
    objects: int
    robot_bodies: int
    robot_joints: int
    drives: int
    seconds: float


def _episode(env):
    """The unwrapped env's ``(sim, task, frame)``, or a ``ValueError`` saying what is missing."""
    base = getattr(env, "unwrapped", env)
    sim, task, frame = (getattr(base, k, None) for k in ("sim", "task", "frame"))
    if sim is None or getattr(sim, "scene", None) is None or task is None or frame is None:
        raise ValueError("export_episode needs a roboref env after reset(seed=...): it has no scene, task or frame yet")
    return sim, task, frame


def export_episode(env, path: str | Path, camera: str | None = None) -> ExportReport:
    """Write ``env``'s current episode to ``path`` (``.usd``/``.usdc`` binary, ``.usda`` text)."""
    p = pxr_modules()
    sim, task, frame = _episode(env)
    base = getattr(env, "unwrapped", env)
    camera = camera or getattr(getattr(base, "config", None), "camera", "agent")
    path = Path(path)
    if path.suffix not in (".usd", ".usda", ".usdc"):
        raise ValueError(f"USD file name must end in .usd, .usda or .usdc, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    world: World = sim.world
    model, data = sim.model, sim.data
    stage = p.Usd.Stage.CreateInMemory()  # written out whole at the end: no half-written file
    p.UsdGeom.SetStageUpAxis(stage, p.UsdGeom.Tokens.z)
    p.UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    p.UsdPhysics.SetStageKilogramsPerUnit(stage, 1.0)
    root = p.UsdGeom.Xform.Define(stage, WORLD)
    stage.SetDefaultPrim(root.GetPrim())
    materials = Materials(stage, f"{WORLD}/Looks")

    scene = p.UsdPhysics.Scene.Define(stage, PHYSICS_SCENE)
    g = np.asarray(model.opt.gravity, float)
    scene.CreateGravityDirectionAttr(p.Gf.Vec3f(*map(float, g / (np.linalg.norm(g) or 1.0))))
    scene.CreateGravityMagnitudeAttr(float(np.linalg.norm(g)))
    scene.GetPrim().SetCustomDataByKey("mujoco:timestep", float(model.opt.timestep))

    _static(stage, model, data, world, materials)
    n_obj = _objects(stage, model, data, world, sim.scene, materials)
    counts = add_robot(stage, f"{WORLD}/Robot", model, data, ROBOT_PREFIX, materials)
    stage.GetPrimAtPath(f"{WORLD}/Robot").SetCustomDataByKey("roboref:robot", world.robot.name)
    for cam_id in range(model.ncam):
        _camera(stage, model, data, model.camera(cam_id).name)
    _task_metadata(stage, sim, task, frame, camera)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")  # same format (by suffix), then renamed
    if not stage.GetRootLayer().Export(str(tmp)):
        raise OSError(f"OpenUSD could not write {tmp}")
    tmp.replace(path)
    return ExportReport(
        str(path), n_obj, counts["bodies"], counts["joints"], counts["drives"], time.perf_counter() - t0
    )


def _static(stage, model, data, world: World, materials: Materials) -> None:
    """World-body geoms (floor, table, legs, pedestal): static colliders, no rigid body."""
    p = pxr_modules()
    p.UsdGeom.Xform.Define(stage, f"{WORLD}/Table")
    for g in np.nonzero(model.geom_bodyid == 0)[0]:
        name = model.geom(g).name or f"geom{g}"
        quat = np.zeros(4)
        mujoco.mju_mat2Quat(quat, data.geom_xmat[g])
        add_geom(stage, f"{WORLD}/Table/{name}", model, int(g), data.geom_xpos[g], quat, materials, colliding(model, g))


def _objects(stage, model, data, world: World, spec, materials: Materials) -> int:
    """One rigid body per scene object at its settled pose; its visible slot geoms are the parts."""
    p = pxr_modules()
    p.UsdGeom.Scope.Define(stage, f"{WORLD}/Objects")
    for k, obj in enumerate(spec.objects):
        body = int(world.slot_body[k])
        xf = p.UsdGeom.Xform.Define(stage, f"{WORLD}/Objects/obj{k}")
        set_pose(xf, data.xpos[body], data.xquat[body])
        prim = xf.GetPrim()
        p.UsdPhysics.RigidBodyAPI.Apply(prim)
        set_mass(prim, model, body)
        prim.SetCustomDataByKey("roboref:category", obj.category)
        prim.SetCustomDataByKey("roboref:color", obj.color)
        prim.SetCustomDataByKey("roboref:size", p.Gf.Vec3d(*map(float, obj.size)))
        prim.SetCustomDataByKey("roboref:segmentationLabel", k + 1)
        for j, geom in enumerate(world.slot_geoms[k]):
            if int(model.geom_group[geom]) != VISIBLE_GROUP:
                continue
            add_geom(
                stage, f"{WORLD}/Objects/obj{k}/part{j}", model, int(geom),
                model.geom_pos[geom], model.geom_quat[geom], materials, True,
            )  # fmt: skip
    return len(spec.objects)


def usd_camera_attrs(K: np.ndarray, width: int, height: int, near: float, far: float) -> dict[str, float]:
    """USD pinhole camera attributes with the same projection as ``K``: focal length and apertures in
    one unit (mm), pixels square or not, principal-point offsets as aperture offsets."""
    pitch = HORIZONTAL_APERTURE / width  # mm per pixel, horizontally
    focal = float(K[0, 0]) * pitch
    v_pitch = focal / float(K[1, 1])  # vertical mm per pixel that gives K's fy
    return {
        "focalLength": focal,
        "horizontalAperture": HORIZONTAL_APERTURE,
        "verticalAperture": v_pitch * height,
        # the film window is [offset - aperture/2, offset + aperture/2]; image v runs down, film y up
        "horizontalApertureOffset": (width / 2 - float(K[0, 2])) * pitch,
        "verticalApertureOffset": (float(K[1, 2]) - height / 2) * v_pitch,
        "near": near,
        "far": far,
    }


def _camera(stage, model, data, name: str) -> None:
    K, T = camera_pose(model, data, name)
    w, h = (int(v) for v in model.cam_resolution[model.camera(name).id])
    extent = float(model.stat.extent)
    near, far = float(model.vis.map.znear) * extent, float(model.vis.map.zfar) * extent
    _camera_prim(stage, f"{WORLD}/Cameras/{name}", K, T, w, h, near, far)


def _camera_prim(stage, path: str, K: np.ndarray, T: np.ndarray, w: int, h: int, near: float, far: float):
    """A USD camera at ``path`` that sees what the OpenCV camera ``(K, T_world_cam)`` sees."""
    p = pxr_modules()
    a = usd_camera_attrs(K, w, h, near, far)
    cam = p.UsdGeom.Camera.Define(stage, path)
    cam.CreateProjectionAttr(p.UsdGeom.Tokens.perspective)
    cam.CreateFocalLengthAttr(a["focalLength"])
    cam.CreateHorizontalApertureAttr(a["horizontalAperture"])
    cam.CreateVerticalApertureAttr(a["verticalAperture"])
    cam.CreateHorizontalApertureOffsetAttr(a["horizontalApertureOffset"])
    cam.CreateVerticalApertureOffsetAttr(a["verticalApertureOffset"])
    cam.CreateClippingRangeAttr(p.Gf.Vec2f(a["near"], a["far"]))
    R = T[:3, :3] @ CV_TO_USD
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, R.ravel())
    set_pose(cam, T[:3, 3], quat)
    prim = cam.GetPrim()
    prim.SetCustomDataByKey("roboref:resolution", p.Gf.Vec2i(w, h))
    prim.SetCustomDataByKey("roboref:intrinsics", json.dumps(np.round(K, 9).tolist()))
    return cam


def task_region(sim, task, frame, camera: str) -> dict:
    """The task's ground truth in 3D: its mask's pixels unprojected with the rendered depth
    (bounding box and centroid, world metres) and the answer point unprojected the same way."""
    K, T = sim.camera_pose(camera)
    rows, cols = np.nonzero(task.mask)
    if rows.size == 0:
        raise ValueError("the task's ground-truth mask is empty: nothing to export as its region")
    pts = unproject(np.stack([cols + 0.5, rows + 0.5], 1), frame.depth[rows, cols], K, T)
    h, w = task.mask.shape
    u, v = min(int(task.point[0] * w), w - 1), min(int(task.point[1] * h), h - 1)
    answer = unproject(np.array([[u + 0.5, v + 0.5]]), np.array([frame.depth[v, u]]), K, T)[0]
    return {"min": pts.min(0), "max": pts.max(0), "centroid": pts.mean(0), "answer": answer, "pixels": int(rows.size)}


def _task_metadata(stage, sim, task, frame, camera: str) -> None:
    """The task as ``customLayerData["roboref"]`` (readable without traversing) and on ``/World``."""
    p = pxr_modules()
    region = task_region(sim, task, frame, camera)
    vec = lambda v: p.Gf.Vec3d(*map(float, v))  # noqa: E731
    info = {
        "instruction": task.instruction,
        "kind": task.kind,
        "answer": task.answer,
        "point": p.Gf.Vec2d(*map(float, task.point)),
        "camera": f"{WORLD}/Cameras/{camera}",
        "target": f"{WORLD}/Objects/obj{task.target}" if task.target >= 0 else "",
        "region_min": vec(region["min"]),
        "region_max": vec(region["max"]),
        "region_centroid": vec(region["centroid"]),
        "region_pixels": region["pixels"],
        "answer_world": vec(region["answer"]),
        "robot": sim.world.robot.name,
        "seed": -1 if sim.scene.seed is None else int(sim.scene.seed),
        "task_json": json.dumps(task.to_dict()),
        "scene_json": sim.scene.to_json(),
        "mujoco_version": mujoco.__version__,
    }
    layer = stage.GetRootLayer()
    layer.customLayerData = {"roboref": info}
    layer.documentation = f"roboref episode: {task.instruction}"
    stage.GetPrimAtPath(WORLD).SetCustomDataByKey("roboref", info)


def read_task(stage) -> dict:
    """The task metadata ``export_episode`` wrote, from an open stage."""
    data = stage.GetRootLayer().customLayerData.get("roboref")
    if data is None:
        raise ValueError("this USD stage has no roboref task metadata (not written by export_episode)")
    return dict(data)

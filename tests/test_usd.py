"""OpenUSD export: the stage, opened with pxr, is the MuJoCo episode (poses, masses, colliders,
articulation, camera projection, task) for both robots; bad input gets an error naming the fix."""

from __future__ import annotations

import sys

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from pxr import Gf, Usd, UsdGeom, UsdPhysics  # usd-core: the [usd] extra, in [dev] so .ci/run has it

from roboref.cli import main
from roboref.envs import env_id
from roboref.envs.camera import project
from roboref.envs.usd import export_episode, read_task
from roboref.envs.world import ROBOT_PREFIX


@pytest.fixture(scope="module", params=["ur5e", "g1"])
def episode(request, tmp_path_factory):
    env = gym.make(env_id("refer", request.param))
    env.reset(seed=7)
    path = tmp_path_factory.mktemp(request.param) / "scene.usd"
    report = export_episode(env, path)
    stage = Usd.Stage.Open(str(path))
    yield env.unwrapped, stage, report
    env.close()


def world_pose(prim) -> tuple[np.ndarray, np.ndarray]:
    m = UsdGeom.Xformable(prim).ComputeLocalToWorldTransform(Usd.TimeCode.Default())
    M = np.array(m).T  # USD matrices act on row vectors
    return M[:3, 3], M[:3, :3] / np.linalg.norm(M[:3, :3], axis=0)


def test_stage_is_z_up_metres_with_gravity(episode):
    env, stage, _ = episode
    assert UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.z
    assert UsdGeom.GetStageMetersPerUnit(stage) == 1.0
    assert UsdPhysics.GetStageKilogramsPerUnit(stage) == 1.0
    scenes = [p for p in stage.Traverse() if p.IsA(UsdPhysics.Scene)]
    assert len(scenes) == 1
    scene = UsdPhysics.Scene(scenes[0])
    assert scene.GetGravityMagnitudeAttr().Get() == pytest.approx(np.linalg.norm(env.sim.model.opt.gravity))
    assert tuple(scene.GetGravityDirectionAttr().Get()) == pytest.approx((0, 0, -1))


def test_every_object_is_a_rigid_body_with_mass_and_colliders_at_the_mujoco_pose(episode):
    env, stage, report = episode
    model, data, world = env.sim.model, env.sim.data, env.sim.world
    assert report.objects == len(env.sim.scene.objects) >= 4
    for k, obj in enumerate(env.sim.scene.objects):
        prim = stage.GetPrimAtPath(f"/World/Objects/obj{k}")
        body = world.slot_body[k]
        assert prim.HasAPI(UsdPhysics.RigidBodyAPI)
        assert UsdPhysics.MassAPI(prim).GetMassAttr().Get() == pytest.approx(model.body_mass[body], rel=1e-6)
        assert prim.GetCustomDataByKey("roboref:category") == obj.category
        pos, rot = world_pose(prim)
        assert np.abs(pos - data.xpos[body]).max() < 1e-3
        assert np.abs(rot - data.xmat[body].reshape(3, 3)).max() < 1e-3
        parts = [c for c in prim.GetChildren() if c.HasAPI(UsdPhysics.CollisionAPI)]
        visible = [g for g in world.slot_geoms[k] if model.geom_group[g] == 2]
        assert len(parts) == len(visible) >= 1
        for part, g in zip(parts, visible, strict=True):  # each part's centre where MuJoCo has it
            assert np.abs(world_pose(part)[0] - data.geom_xpos[g]).max() < 1e-3


def test_table_and_floor_are_static_colliders(episode):
    _, stage, _ = episode
    for name in ("table", "floor"):
        prim = stage.GetPrimAtPath(f"/World/Table/{name}")
        assert prim.HasAPI(UsdPhysics.CollisionAPI) and not prim.HasAPI(UsdPhysics.RigidBodyAPI)


def _robot_joints(stage):
    kinds = (UsdPhysics.RevoluteJoint, UsdPhysics.PrismaticJoint, UsdPhysics.SphericalJoint)
    return [
        p
        for p in Usd.PrimRange(stage.GetPrimAtPath("/World/Robot"))
        if any(p.IsA(k) for k in kinds) and not UsdPhysics.Joint(p).GetExcludeFromArticulationAttr().Get()
    ]


def test_articulation_root_and_joints_match_the_mujoco_model(episode):
    env, stage, report = episode
    model = env.sim.model
    roots = [p for p in stage.Traverse() if p.HasAPI(UsdPhysics.ArticulationRootAPI)]
    assert [str(p.GetPath()) for p in roots] == ["/World/Robot"]
    mj_joints = [j for j in range(model.njnt) if model.joint(j).name.startswith(ROBOT_PREFIX)]
    joints = _robot_joints(stage)
    assert len(joints) == len(mj_joints) == report.robot_joints
    assert {p.GetCustomDataByKey("mujoco:joint") for p in joints} == {model.joint(j).name for j in mj_joints}
    bodies = [p for p in Usd.PrimRange(roots[0]) if p.HasAPI(UsdPhysics.RigidBodyAPI)]
    assert len(bodies) == sum(model.body(b).name.startswith(ROBOT_PREFIX) for b in range(model.nbody))
    fixed = [UsdPhysics.FixedJoint(p) for p in Usd.PrimRange(roots[0]) if p.IsA(UsdPhysics.FixedJoint)]
    assert sum(not j.GetBody0Rel().GetTargets() for j in fixed) == 1  # one weld to the world: fixed base
    assert sum(p.HasAPI(UsdPhysics.DriveAPI, "angular") for p in joints) == report.drives > 0


def _frame(stage, joint, i: int) -> tuple[np.ndarray, np.ndarray]:
    j = UsdPhysics.Joint(joint)
    targets = (j.GetBody0Rel() if i == 0 else j.GetBody1Rel()).GetTargets()
    pos, rot = world_pose(stage.GetPrimAtPath(targets[0])) if targets else (np.zeros(3), np.eye(3))
    local = np.array((j.GetLocalPos0Attr() if i == 0 else j.GetLocalPos1Attr()).Get())
    q = (j.GetLocalRot0Attr() if i == 0 else j.GetLocalRot1Attr()).Get()
    R = np.array(Gf.Matrix3d(Gf.Rotation(Gf.Quatd(q)))).T
    return pos + rot @ local, rot @ R


def test_joint_frames_meet_and_measure_mujocos_joint_position(episode):
    """Both bodies' joint frames coincide at the exported state, and the revolute angle between
    them (about the joint's Z axis) is MuJoCo's qpos: USD joint positions mean what qpos means."""
    env, stage, _ = episode
    model, data = env.sim.model, env.sim.data
    for p in _robot_joints(stage):
        if not p.IsA(UsdPhysics.RevoluteJoint):
            continue
        (p0, R0), (p1, R1) = _frame(stage, p, 0), _frame(stage, p, 1)
        assert np.abs(p0 - p1).max() < 1e-4, p.GetPath()
        assert np.abs(R0[:, 2] - R1[:, 2]).max() < 1e-4  # shared axis
        angle = np.degrees(np.arctan2(R0[:, 1] @ R1[:, 0], R0[:, 0] @ R1[:, 0]))  # R0ᵀR1 = Rz(angle)
        j = model.joint(p.GetCustomDataByKey("mujoco:joint")).id
        q = np.degrees(data.qpos[model.jnt_qposadr[j]])
        assert abs((angle - q + 180) % 360 - 180) < 0.05, p.GetPath()
        # and the start state Isaac Sim (PhysX JointStateAPI) reads is that same qpos
        assert p.GetAttribute("state:angular:physics:position").Get() == pytest.approx(q, abs=1e-3)


def usd_project(stage, cam_path: str, points: np.ndarray) -> np.ndarray:
    """Pixels of world points through the USD camera, by USD's own camera model (``Gf.Camera``'s
    frustum from the prim's attributes and pose), not by roboref's ``K``."""
    prim = stage.GetPrimAtPath(cam_path)
    w, h = prim.GetCustomDataByKey("roboref:resolution")
    frustum = UsdGeom.Camera(prim).GetCamera(Usd.TimeCode.Default()).frustum
    M = frustum.ComputeViewMatrix() * frustum.ComputeProjectionMatrix()
    ndc = np.array([M.Transform(Gf.Vec3d(*map(float, p))) for p in points])
    return np.stack([(ndc[:, 0] + 1) / 2 * w, (1 - ndc[:, 1]) / 2 * h], 1)


def test_usd_camera_projects_each_object_centre_where_roboref_does(episode):
    env, stage, _ = episode
    world, data = env.sim.world, env.sim.data
    centres = np.array([data.xipos[world.slot_body[k]] for k in range(len(env.sim.scene.objects))])
    K, T = env.sim.camera_pose("agent")
    expected, z = project(centres, K, T)
    assert (z > 0).all()
    got = usd_project(stage, "/World/Cameras/agent", centres)
    assert np.abs(got - expected).max() < 2.0
    near, far = UsdGeom.Camera(stage.GetPrimAtPath("/World/Cameras/agent")).GetClippingRangeAttr().Get()
    assert 0 < near < z.min() and far > z.max()


def test_off_centre_principal_point_and_fx_ne_fy_survive_the_usd_attributes():
    from roboref.envs.usd import _camera_prim

    K = np.array([[500.0, 0, 300], [0, 520.0, 200], [0, 0, 1]])
    T = np.eye(4)  # OpenCV camera at the origin looking down world +z
    stage = Usd.Stage.CreateInMemory()
    _camera_prim(stage, "/cam", K, T, 640, 480, 0.01, 10.0)
    pts = np.array([[0.1, -0.2, 1.5], [-0.3, 0.1, 2.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(usd_project(stage, "/cam", pts), project(pts, K, T)[0], atol=1e-6)


def test_task_metadata_is_on_the_stage(episode):
    env, stage, _ = episode
    task = env.task
    meta = read_task(stage)
    assert (meta["instruction"], meta["kind"], meta["answer"]) == (task.instruction, task.kind, task.answer)
    lo, hi = np.array(meta["region_min"]), np.array(meta["region_max"])
    answer = np.array(meta["answer_world"])
    assert (lo - 1e-6 <= answer).all() and (answer <= hi + 1e-6).all()
    if task.kind == "location":
        assert stage.GetPrimAtPath(meta["target"]).HasAPI(UsdPhysics.RigidBodyAPI)
    uv, _ = usd_project(stage, meta["camera"], answer[None]), None
    h, w = task.mask.shape
    assert np.abs(uv[0] / [w, h] - task.point).max() < 2.0 / w  # the 3D answer is seen at the answer point


def test_same_seed_writes_the_same_stage(tmp_path):
    paths = []
    for i in range(2):
        env = gym.make(env_id("refer", "ur5e"), num_objects=(5, 5))
        env.reset(seed=11)
        paths.append(tmp_path / f"s{i}.usda")
        export_episode(env, paths[-1])
        env.close()
    assert paths[0].read_text() == paths[1].read_text()


def test_cli_export_writes_a_stage(tmp_path, capsys):
    out = tmp_path / "s.usd"
    assert main(["export", "format=usd", "robot=ur5e", "seed=0", f"out={out}", "env.num_objects=[4,4]"]) == 0
    assert "4 objects" in capsys.readouterr().out
    stage = Usd.Stage.Open(str(out))
    assert len([p for p in stage.Traverse() if p.HasAPI(UsdPhysics.RigidBodyAPI)]) > 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["robot=spot", "out=x.usd"], "unknown robot 'spot'; known robots: ur5e, g1"),
        (["format=obj", "out=x.usd"], "unknown export format 'obj'; formats: usd"),
        (["robot=ur5e"], "out=FILE.usd is required"),
    ],
)
def test_cli_bad_input_exits_2_naming_the_fix(args, message, capsys):
    assert main(["export", *args]) == 2
    assert message in capsys.readouterr().err


def test_export_needs_a_reset_env_and_a_usd_file_name(tmp_path):
    env = gym.make(env_id("refer", "ur5e"), num_objects=(4, 4))
    with pytest.raises(ValueError, match=r"after reset\(seed=\.\.\.\)"):
        export_episode(env, tmp_path / "s.usd")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"\.usd, \.usda or \.usdc"):
        export_episode(env, tmp_path / "s.json")
    env.close()


def test_missing_usd_core_names_the_extra(monkeypatch, capsys):
    """Without pxr (usd-core not installed), export and the CLI say which extra to install."""
    from roboref.envs.usd_geom import pxr_modules

    monkeypatch.setitem(sys.modules, "pxr", None)  # makes `from pxr import ...` raise ImportError
    with pytest.raises(ImportError, match=r"pip install 'roboref\[usd\]'"):
        pxr_modules()
    assert main(["export", "robot=ur5e", "out=x.usd"]) == 2
    assert "pip install 'roboref[usd]'" in capsys.readouterr().err


def test_mass_properties_and_drive_units(episode):
    """Robot masses are MuJoCo's; a UR5e joint drive's stiffness is kp per degree (UsdPhysics)."""
    env, stage, _ = episode
    model = env.sim.model
    for p in Usd.PrimRange(stage.GetPrimAtPath("/World/Robot")):
        if p.HasAPI(UsdPhysics.RigidBodyAPI):
            name = ROBOT_PREFIX + p.GetName()
            if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name) >= 0:
                assert UsdPhysics.MassAPI(p).GetMassAttr().Get() == pytest.approx(model.body(name).mass[0], rel=1e-6)
    for b in range(model.nbody):  # MuJoCo's gravity compensation -> PhysX's disableGravity
        name = model.body(b).name
        if name.startswith(ROBOT_PREFIX):
            prim = stage.GetPrimAtPath(f"/World/Robot/{name.removeprefix(ROBOT_PREFIX).replace('/', '_')}")
            assert prim.IsValid(), name
            assert bool(prim.GetAttribute("physxRigidBody:disableGravity").Get()) == (model.body_gravcomp[b] >= 1)
    if env.sim.world.robot.name == "ur5e":
        drive = UsdPhysics.DriveAPI(stage.GetPrimAtPath("/World/Robot/joints/shoulder_pan_joint"), "angular")
        kp = -model.actuator("robot/shoulder_pan").biasprm[1]
        assert drive.GetStiffnessAttr().Get() == pytest.approx(kp * np.pi / 180, rel=1e-6)


def _validate(stage) -> list[str]:
    """Errors of every validator OpenUSD registers (core, UsdGeom, UsdShade, UsdPhysics)."""
    from pxr import UsdValidation

    reg = UsdValidation.ValidationRegistry()
    validators = reg.GetOrLoadValidatorsByName([m.name for m in reg.GetAllValidatorMetadata()])
    return [e.GetErrorAsString() for e in UsdValidation.ValidationContext(validators).Validate(stage)]


def test_stage_passes_openusds_validators_which_do_catch_broken_physics(episode):
    _, stage, _ = episode
    assert _validate(stage) == []
    broken = Usd.Stage.CreateInMemory()  # the control: the validators are live and see physics
    body = UsdGeom.Xform.Define(broken, "/W/A").GetPrim()
    UsdPhysics.RigidBodyAPI.Apply(body)
    joint = UsdPhysics.RevoluteJoint.Define(broken, "/W/j")
    joint.CreateBody0Rel().SetTargets(["/W/missing"])
    joint.CreateBody1Rel().SetTargets(["/W/A"])
    assert any("JointInvalidPrimRel" in e for e in _validate(broken))

"""The robot subtree of a compiled roboref world as a UsdPhysics articulation.

Why not NVIDIA's ``mujoco-usd-converter``: 0.8.0 pins ``mujoco<3.17`` (roboref runs on mujoco 4)
and authors actuators as MuJoCo-specific ``MjcActuator`` prims, not ``UsdPhysics`` drives; see the
README's OpenUSD section for what it produced on these robots. This module reads the same compiled
model the episode ran (decimated meshes included), so the stage is that episode exactly.

Layout: every robot body is a rigid body directly under ``root`` (flat, as Isaac Sim's importers
write links), with its world pose at the episode's state; joints live under ``root/joints``. Joint
frames are authored at MuJoCo's reference configuration, so a USD joint position equals MuJoCo's
``qpos`` (degrees for hinges, metres for slides). ``root`` carries ``ArticulationRootAPI``; the robot
is fixed to the world by a ``FixedJoint`` as MuJoCo welds it.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from roboref.envs.usd_geom import Materials, add_geom, colliding, pxr_modules, set_mass, set_pose

_DEG = 180.0 / math.pi


def _name(model: mujoco.MjModel, body: int, prefix: str) -> str:
    from pxr import Tf

    return Tf.MakeValidIdentifier(model.body(body).name.removeprefix(prefix))


def _compose(pos_a, quat_a, pos_b, quat_b) -> tuple[np.ndarray, np.ndarray]:
    """Frame b given in frame a, expressed in a's parent: ``a * b``."""
    pos, quat = np.zeros(3), np.zeros(4)
    mujoco.mju_mulPose(pos, quat, np.asarray(pos_a, float), np.asarray(quat_a, float), pos_b, quat_b)
    return pos, quat


def _vec(v):
    return pxr_modules().Gf.Vec3f(*map(float, v))


def _quat(q):
    w, x, y, z = map(float, q)
    return pxr_modules().Gf.Quatf(w, x, y, z)


def robot_bodies(model: mujoco.MjModel, prefix: str) -> list[int]:
    return [b for b in range(1, model.nbody) if model.body(b).name.startswith(prefix)]


def add_robot(stage, root: str, model: mujoco.MjModel, data: mujoco.MjData, prefix: str, materials: Materials) -> dict:
    """Author the bodies named ``prefix…`` as an articulation under ``root``; returns counts."""
    p = pxr_modules()
    bodies = robot_bodies(model, prefix)
    if not bodies:
        raise ValueError(f"the model has no bodies named {prefix!r}…: nothing to export as the robot")
    p.UsdGeom.Xform.Define(stage, root)
    p.UsdPhysics.ArticulationRootAPI.Apply(stage.GetPrimAtPath(root))
    p.UsdGeom.Scope.Define(stage, f"{root}/joints")
    paths = {b: f"{root}/{_name(model, b, prefix)}" for b in bodies}
    for b in bodies:
        xf = p.UsdGeom.Xform.Define(stage, paths[b])
        set_pose(xf, data.xpos[b], data.xquat[b])
        prim = xf.GetPrim()
        p.UsdPhysics.RigidBodyAPI.Apply(prim)
        set_mass(prim, model, b)
        if model.body_gravcomp[b] >= 1.0:
            # MuJoCo's gravity compensation (the arm holds its pose): PhysX's per-body switch,
            # authored raw since usd-core has no PhysxSchema; Isaac Sim and Newton read it.
            prim.AddAppliedSchema("PhysxRigidBodyAPI")
            prim.CreateAttribute("physxRigidBody:disableGravity", p.Sdf.ValueTypeNames.Bool, False).Set(True)
        for g in np.nonzero(model.geom_bodyid == b)[0]:
            gname = model.geom(g).name.removeprefix(prefix).replace("/", "_") or f"geom{g}"
            from pxr import Tf

            add_geom(
                stage, f"{paths[b]}/{Tf.MakeValidIdentifier(gname)}_{g}", model, int(g),
                model.geom_pos[g], model.geom_quat[g], materials, colliding(model, int(g)),
            )  # fmt: skip
    joints = _add_joints(stage, root, model, data, bodies, paths)
    drives = _add_drives(stage, model, data, joints)
    loops = _add_loop_closures(stage, root, model, paths)
    _filter_self_collisions(stage, root)
    return {"bodies": len(bodies), "joints": len(joints), "drives": drives, "loop_closures": loops}


def _add_joints(stage, root, model, data, bodies, paths) -> dict[int, object]:
    """One UsdPhysics joint per MuJoCo joint (hinge → revolute, slide → prismatic, ball →
    spherical) and a fixed joint for each welded body. Returns ``{mujoco joint id: joint prim}``."""
    p = pxr_modules()
    J = mujoco.mjtJoint
    out: dict[int, object] = {}
    for b in bodies:
        parent = int(model.body_parentid[b])
        jnts = [j for j in range(model.njnt) if model.jnt_bodyid[j] == b]
        if len(jnts) > 1:
            raise ValueError(f"body {model.body(b).name!r} has {len(jnts)} joints; USD export needs at most one")
        if parent == 0:
            # welded to the world: body0 unset means the world frame
            ppos, pquat = data.xpos[b], data.xquat[b]
        else:
            ppos, pquat = model.body_pos[b], model.body_quat[b]
        name = paths[b].rsplit("/", 1)[1]
        if not jnts or int(model.jnt_type[jnts[0]]) == J.mjJNT_FREE:
            joint = p.UsdPhysics.FixedJoint.Define(stage, f"{root}/joints/{name}_fixed")
            _frames(joint, paths.get(parent), paths[b], ppos, pquat, np.zeros(3), np.array([1.0, 0, 0, 0]))
            continue
        j = jnts[0]
        t = int(model.jnt_type[j])
        jname = model.joint(j).name.rsplit("/", 1)[-1]
        axis_q = np.zeros(4)
        mujoco.mju_quatZ2Vec(axis_q, model.jnt_axis[j].astype(float))
        if t == J.mjJNT_HINGE:
            joint = p.UsdPhysics.RevoluteJoint.Define(stage, f"{root}/joints/{jname}")
            unit = _DEG
        elif t == J.mjJNT_SLIDE:
            joint = p.UsdPhysics.PrismaticJoint.Define(stage, f"{root}/joints/{jname}")
            unit = 1.0
        else:
            joint = p.UsdPhysics.SphericalJoint.Define(stage, f"{root}/joints/{jname}")
            unit = None
        if unit is not None:
            joint.CreateAxisAttr("Z")
            if model.jnt_limited[j]:
                lo, hi = model.jnt_range[j] * unit
                joint.CreateLowerLimitAttr(float(lo))
                joint.CreateUpperLimitAttr(float(hi))
            _joint_state(
                joint.GetPrim(), "angular" if t == J.mjJNT_HINGE else "linear", data.qpos[model.jnt_qposadr[j]] * unit
            )
        jpos = model.jnt_pos[j].astype(float)
        pos0, quat0 = _compose(ppos, pquat, jpos, axis_q)
        _frames(joint, paths.get(parent), paths[b], pos0, quat0, jpos, axis_q)
        joint.GetPrim().SetCustomDataByKey("mujoco:joint", model.joint(j).name)
        out[j] = joint
    return out


def _joint_state(prim, kind: str, position: float) -> None:
    """The episode's joint position as PhysX's ``JointStateAPI`` (degrees or metres): what Isaac
    Sim and Newton start the articulation from (UsdPhysics itself has no joint state)."""
    p = pxr_modules()
    prim.AddAppliedSchema(f"PhysicsJointStateAPI:{kind}")
    prim.CreateAttribute(f"state:{kind}:physics:position", p.Sdf.ValueTypeNames.Float, False).Set(float(position))
    prim.CreateAttribute(f"state:{kind}:physics:velocity", p.Sdf.ValueTypeNames.Float, False).Set(0.0)


def _frames(joint, body0: str | None, body1: str, pos0, quat0, pos1, quat1) -> None:
    if body0 is not None:
        joint.CreateBody0Rel().SetTargets([body0])
    joint.CreateBody1Rel().SetTargets([body1])
    joint.CreateLocalPos0Attr(_vec(pos0))
    joint.CreateLocalRot0Attr(_quat(quat0))
    joint.CreateLocalPos1Attr(_vec(pos1))
    joint.CreateLocalRot1Attr(_quat(quat1))


def _add_drives(stage, model, data, joints: dict[int, object]) -> int:
    """``DriveAPI`` from MuJoCo actuators. A position servo (``gain·ctrl − kp·q − kv·q̇``) gives
    stiffness kp, damping kv, target ``gain·ctrl/kp``; a motor gives an effort drive (stiffness
    and damping 0); a fixed-tendon actuator (the 2F-85's) drives each of its joints with its share
    of the tendon's stiffness, linearized with the coupled joints equal. Angular stiffness and
    damping are per degree, as UsdPhysics defines them."""
    p = pxr_modules()
    T = mujoco.mjtTrn
    n = 0
    for a in range(model.nu):
        trn, target = int(model.actuator_trntype[a]), int(model.actuator_trnid[a][0])
        if trn == T.mjTRN_JOINT:
            shares = [(target, float(model.actuator_gear[a][0]))]
        elif trn == T.mjTRN_TENDON and model.tendon_num[target] > 0:
            adr, num = int(model.tendon_adr[target]), int(model.tendon_num[target])
            shares = [(int(model.wrap_objid[w]), float(model.wrap_prm[w])) for w in range(adr, adr + num)]
        else:
            continue
        total = sum(c for _, c in shares) or 1.0
        kp = -float(model.actuator_biasprm[a][1])
        kv = -float(model.actuator_biasprm[a][2])
        gain = float(model.actuator_gainprm[a][0])
        ctrl = float(data.ctrl[a])
        for j, coef in shares:
            if j not in joints:
                continue
            angular = int(model.jnt_type[j]) == mujoco.mjtJoint.mjJNT_HINGE
            unit = _DEG if angular else 1.0
            drive = p.UsdPhysics.DriveAPI.Apply(joints[j].GetPrim(), "angular" if angular else "linear")
            drive.CreateTypeAttr("force")
            k, d = max(kp, 0.0) * coef * total, max(kv, 0.0) * coef * total
            drive.CreateStiffnessAttr(k / unit)
            drive.CreateDampingAttr(d / unit)
            if kp > 0:
                drive.CreateTargetPositionAttr(gain * ctrl / kp / total * unit)
            if model.actuator_forcelimited[a]:
                drive.CreateMaxForceAttr(float(np.abs(model.actuator_forcerange[a]).max() * abs(coef)))
            elif model.jnt_actfrclimited[j]:
                drive.CreateMaxForceAttr(float(np.abs(model.jnt_actfrcrange[j]).max()))
            joints[j].GetPrim().SetCustomDataByKey("mujoco:actuator", model.actuator(a).name)
            n += 1
    return n


def _add_loop_closures(stage, root, model, paths) -> int:
    """MuJoCo ``connect`` equalities (the 2F-85's four-bar linkage) as spherical joints outside the
    articulation tree, as PhysX wants loop closures; other equalities are not exported."""
    p = pxr_modules()
    n = 0
    for e in range(model.neq):
        if int(model.eq_type[e]) != mujoco.mjtEq.mjEQ_CONNECT or model.eq_objtype[e] != mujoco.mjtObj.mjOBJ_BODY:
            continue
        b1, b2 = int(model.eq_obj1id[e]), int(model.eq_obj2id[e])
        if b1 not in paths or b2 not in paths:
            continue
        joint = p.UsdPhysics.SphericalJoint.Define(stage, f"{root}/joints/loop_{n}")
        joint.CreateExcludeFromArticulationAttr(True)
        anchor1, anchor2 = model.eq_data[e][:3], model.eq_data[e][3:6]
        _frames(joint, paths[b1], paths[b2], anchor1, [1, 0, 0, 0], anchor2, [1, 0, 0, 0])
        n += 1
    return n


def _filter_self_collisions(stage, root: str) -> None:
    """The robot does not collide with itself in roboref's MuJoCo world (contype 2 / affinity 1):
    one collision group that filters itself says the same to PhysX."""
    p = pxr_modules()
    group = p.UsdPhysics.CollisionGroup.Define(stage, f"{root}/self_collision")
    group.GetCollidersCollectionAPI().CreateIncludesRel().SetTargets([root])
    group.CreateFilteredGroupsRel().SetTargets([group.GetPath()])

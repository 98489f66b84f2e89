"""MuJoCo geoms and poses as OpenUSD prims: the shared pieces of ``usd`` and ``usd_robot``.

Every function takes the ``pxr`` modules through ``pxr_modules()``, so importing roboref never
needs ``usd-core``; only an export does, and a missing package gets an error naming the fix.
"""

from __future__ import annotations

from types import SimpleNamespace

import mujoco
import numpy as np

MISSING_USD = "OpenUSD export needs the usd-core package: pip install 'roboref[usd]' (or pip install usd-core)"
#: MuJoCo geom groups a default renderer shows; other geoms (Menagerie collision shapes) become
#: USD ``guide`` prims, which renderers skip, as MuJoCo's viewer does.
SHOWN_GROUPS = (0, 1, 2)


def pxr_modules() -> SimpleNamespace:
    """``pxr``'s modules, or an ``ImportError`` that says how to install them."""
    try:
        from pxr import Gf, Sdf, Usd, UsdGeom, UsdPhysics, UsdShade, Vt
    except ImportError as err:
        raise ImportError(MISSING_USD) from err
    return SimpleNamespace(Gf=Gf, Sdf=Sdf, Usd=Usd, UsdGeom=UsdGeom, UsdPhysics=UsdPhysics, UsdShade=UsdShade, Vt=Vt)


def set_pose(xformable, pos, quat, scale=None) -> None:
    """Author translate + orient (+ scale) ops: the op order Isaac Sim's tools expect."""
    p = pxr_modules()
    xf = p.UsdGeom.Xformable(xformable)
    xf.ClearXformOpOrder()
    xf.AddTranslateOp(p.UsdGeom.XformOp.PrecisionDouble).Set(p.Gf.Vec3d(*map(float, pos)))
    w, x, y, z = map(float, quat)
    xf.AddOrientOp(p.UsdGeom.XformOp.PrecisionDouble).Set(p.Gf.Quatd(w, x, y, z))
    if scale is not None:
        xf.AddScaleOp(p.UsdGeom.XformOp.PrecisionDouble).Set(p.Gf.Vec3d(*map(float, scale)))


class Materials:
    """One preview-surface material (colour) and one physics material (friction) per distinct
    value, under ``root``, bound to geoms as MuJoCo gives them."""

    def __init__(self, stage, root: str):
        self.stage, self.root = stage, root
        self._looks: dict[tuple, object] = {}
        self._physics: dict[tuple, object] = {}

    def look(self, rgba: np.ndarray):
        p = pxr_modules()
        key = tuple(np.round(np.asarray(rgba, float), 4))
        if key not in self._looks:
            mat = p.UsdShade.Material.Define(self.stage, f"{self.root}/Look_{len(self._looks)}")
            shader = p.UsdShade.Shader.Define(self.stage, f"{mat.GetPath()}/PreviewSurface")
            shader.CreateIdAttr("UsdPreviewSurface")
            shader.CreateInput("diffuseColor", p.Sdf.ValueTypeNames.Color3f).Set(p.Gf.Vec3f(*key[:3]))
            shader.CreateInput("opacity", p.Sdf.ValueTypeNames.Float).Set(key[3])
            shader.CreateInput("roughness", p.Sdf.ValueTypeNames.Float).Set(0.6)
            mat.CreateSurfaceOutput().ConnectToSource(shader.ConnectableAPI(), "surface")
            self._looks[key] = mat
        return self._looks[key]

    def physics(self, friction: float):
        p = pxr_modules()
        key = (round(float(friction), 4),)
        if key not in self._physics:
            mat = p.UsdShade.Material.Define(self.stage, f"{self.root}/Physics_{len(self._physics)}")
            api = p.UsdPhysics.MaterialAPI.Apply(mat.GetPrim())
            api.CreateStaticFrictionAttr(key[0])
            api.CreateDynamicFrictionAttr(key[0])
            api.CreateRestitutionAttr(0.0)
            self._physics[key] = mat
        return self._physics[key]


def _ellipsoid_mesh(mesh, radii: np.ndarray, n_lat: int = 8, n_lon: int = 12) -> None:
    """A UV-sphere mesh scaled to ``radii``: PhysX has no ellipsoid, a convex hull of this is close."""
    p = pxr_modules()
    pts = [(0.0, 0.0, -1.0)]
    for i in range(1, n_lat):
        th = np.pi * i / n_lat - np.pi / 2
        pts += [
            (np.cos(th) * np.cos(ph), np.cos(th) * np.sin(ph), np.sin(th))
            for ph in np.linspace(0, 2 * np.pi, n_lon, False)
        ]
    pts.append((0.0, 0.0, 1.0))
    faces: list[int] = []
    counts: list[int] = []
    ring = lambda i, j: 1 + (i - 1) * n_lon + j % n_lon  # noqa: E731
    for j in range(n_lon):
        faces += [0, ring(1, j + 1), ring(1, j)]
        faces += [len(pts) - 1, ring(n_lat - 1, j), ring(n_lat - 1, j + 1)]
        counts += [3, 3]
        for i in range(1, n_lat - 1):
            faces += [ring(i, j), ring(i, j + 1), ring(i + 1, j + 1), ring(i + 1, j)]
            counts.append(4)
    mesh.CreatePointsAttr(p.Vt.Vec3fArray([p.Gf.Vec3f(*(np.array(q) * radii)) for q in pts]))
    mesh.CreateFaceVertexCountsAttr(counts)
    mesh.CreateFaceVertexIndicesAttr(faces)


def add_geom(stage, path: str, model: mujoco.MjModel, g: int, pos, quat, materials: Materials, collider: bool):
    """Geom ``g`` of ``model`` as a USD gprim at ``pos``/``quat`` in its parent prim's frame.

    Boxes are unit cubes scaled to their half-extents; cylinders and capsules keep MuJoCo's z axis;
    meshes copy the compiled (possibly decimated) vertices. Colliders get ``CollisionAPI``
    (meshes: convex hull, MuJoCo's own mesh-collision model) and the geom's friction."""
    p = pxr_modules()
    t = int(model.geom_type[g])
    size = model.geom_size[g]
    G = mujoco.mjtGeom
    scale = None
    if t == G.mjGEOM_BOX:
        prim = p.UsdGeom.Cube.Define(stage, path)
        prim.CreateSizeAttr(2.0)
        scale = size
    elif t == G.mjGEOM_SPHERE:
        prim = p.UsdGeom.Sphere.Define(stage, path)
        prim.CreateRadiusAttr(float(size[0]))
    elif t in (G.mjGEOM_CYLINDER, G.mjGEOM_CAPSULE):
        prim = (p.UsdGeom.Cylinder if t == G.mjGEOM_CYLINDER else p.UsdGeom.Capsule).Define(stage, path)
        prim.CreateRadiusAttr(float(size[0]))
        prim.CreateHeightAttr(float(2 * size[1]))
        prim.CreateAxisAttr("Z")
    elif t == G.mjGEOM_ELLIPSOID:
        prim = p.UsdGeom.Mesh.Define(stage, path)
        _ellipsoid_mesh(prim, np.asarray(size, float))
    elif t == G.mjGEOM_MESH:
        prim = p.UsdGeom.Mesh.Define(stage, path)
        m = int(model.geom_dataid[g])
        v0, nv = int(model.mesh_vertadr[m]), int(model.mesh_vertnum[m])
        f0, nf = int(model.mesh_faceadr[m]), int(model.mesh_facenum[m])
        prim.CreatePointsAttr(p.Vt.Vec3fArray.FromNumpy(model.mesh_vert[v0 : v0 + nv].astype(np.float32)))
        prim.CreateFaceVertexCountsAttr(p.Vt.IntArray.FromNumpy(np.full(nf, 3, np.int32)))
        prim.CreateFaceVertexIndicesAttr(
            p.Vt.IntArray.FromNumpy(model.mesh_face[f0 : f0 + nf].ravel().astype(np.int32))
        )
        prim.CreateSubdivisionSchemeAttr("none")
    elif t == G.mjGEOM_PLANE:
        prim = p.UsdGeom.Plane.Define(stage, path)
        prim.CreateWidthAttr(float(2 * size[0]))
        prim.CreateLengthAttr(float(2 * size[1]))
        prim.CreateAxisAttr("Z")
    else:
        raise ValueError(f"geom {model.geom(g).name!r}: MuJoCo geom type {t} has no USD export (heightfield, SDF)")
    set_pose(prim, pos, quat, scale)
    rgba = model.geom_rgba[g] if model.geom_matid[g] < 0 else model.mat_rgba[model.geom_matid[g]]
    prim.CreateDisplayColorAttr([p.Gf.Vec3f(*map(float, rgba[:3]))])
    if int(model.geom_group[g]) not in SHOWN_GROUPS:
        prim.CreatePurposeAttr(p.UsdGeom.Tokens.guide)
    prim_ = prim.GetPrim()
    p.UsdShade.MaterialBindingAPI.Apply(prim_).Bind(materials.look(rgba))
    if collider:
        p.UsdPhysics.CollisionAPI.Apply(prim_)
        if t in (G.mjGEOM_MESH, G.mjGEOM_ELLIPSOID):
            p.UsdPhysics.MeshCollisionAPI.Apply(prim_).CreateApproximationAttr(p.UsdPhysics.Tokens.convexHull)
        p.UsdShade.MaterialBindingAPI(prim_).Bind(
            materials.physics(model.geom_friction[g][0]), p.UsdShade.Tokens.weakerThanDescendants, "physics"
        )
    return prim


def set_mass(prim, model: mujoco.MjModel, body: int) -> None:
    """MuJoCo's mass properties of ``body`` on a rigid-body prim (centre of mass in the body frame)."""
    p = pxr_modules()
    api = p.UsdPhysics.MassAPI.Apply(prim)
    api.CreateMassAttr(float(model.body_mass[body]))
    api.CreateCenterOfMassAttr(p.Gf.Vec3f(*map(float, model.body_ipos[body])))
    api.CreateDiagonalInertiaAttr(p.Gf.Vec3f(*map(float, model.body_inertia[body])))
    w, x, y, z = map(float, model.body_iquat[body])
    api.CreatePrincipalAxesAttr(p.Gf.Quatf(w, x, y, z))


def colliding(model: mujoco.MjModel, g: int) -> bool:
    return bool(model.geom_contype[g] or model.geom_conaffinity[g])

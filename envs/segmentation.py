"""Segmentation at a fraction of a render pass: the split pass and the thread that draws it.

The robot's visual meshes are most of a frame's triangles and all carry one label, so the
segmentation pass draws every *other* geom in ID colours and compares its depth with the full
pass's (``Renderer`` explains why that is exact). Where a second core is free, ``SegThread`` draws
that pass on its own GL context while the main thread draws the full pass: the two contexts run
the same driver code on the same scene, so their depths agree bit for bit (tested), and the
segmentation then costs the main thread only the label lookup.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

import mujoco
import numpy as np

from roboref.envs.camera import extrinsics, gl_context_class, model_intrinsics, project


def spare_core() -> bool:
    """Whether this process has a core to spare for the split pass: at least two usable cores
    and a renderer allowed more than one thread (local workers get ``LP_NUM_THREADS`` =
    cores // workers from ``roboref.parallel``, so two workers on two cores run without it)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    lp = os.environ.get("LP_NUM_THREADS")
    return cores >= 2 and (lp is None or int(lp or 0) >= 2)


class SegThread:
    """A worker thread owning a second GL context and ``MjrContext`` for the split pass."""

    def __init__(self, model: mujoco.MjModel, width: int, height: int):
        self.model = model
        self._jobs: queue.Queue = queue.Queue()
        self._value: object = None
        self._done: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, args=(width, height), daemon=True, name="roboref-seg")
        self._thread.start()
        self._result()  # the context is made (or its error raised) before the first frame

    def _run(self, width: int, height: int) -> None:
        try:
            gl = gl_context_class()(width, height)
            gl.make_current()
            con = mujoco.MjrContext(self.model, mujoco.mjtFontScale.mjFONTSCALE_100)
            mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, con)
            con.readDepthMap = mujoco.mjtDepthMap.mjDEPTH_ZEROFAR
        except Exception as e:  # reported to the caller by _result
            self._done.put(e)
            return
        self._done.put(None)
        while (job := self._jobs.get()) is not None:
            try:
                self._value = job(con)
                self._done.put(None)
            except Exception as e:
                self._done.put(e)
        con.free()
        gl.free()

    def _result(self) -> None:
        while True:  # never hang on a thread that is gone (e.g. a forked child has none)
            try:
                err = self._done.get(timeout=5)
                break
            except queue.Empty:
                if not self._thread.is_alive():
                    raise RuntimeError("segmentation thread is not running") from None
        if err is not None:
            raise RuntimeError(f"segmentation thread failed: {err}") from err

    def submit(self, job: Callable[[mujoco.MjrContext], object]) -> None:
        """Start ``job(context)`` on the thread; ``wait`` returns its value."""
        self._jobs.put(job)

    def wait(self) -> object:
        self._result()
        return self._value

    def upload_texture(self, texid: int) -> None:
        """Send a rewritten texture to this thread's context too (randomization)."""
        self._jobs.put(lambda con: mujoco.mjr_uploadTexture(self.model, con, texid))
        self._result()

    def close(self) -> None:
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join(timeout=10)


class SplitSeg:
    """The segmentation pass without the heavy geoms (one label, one geom group); see ``Renderer``."""

    def __init__(self, model: mujoco.MjModel, labels: np.ndarray, heavy: np.ndarray, early: np.ndarray, opt, maxgeom):
        self.model, self.labels, self.heavy, self.early, self.opt = model, labels, heavy, early, opt
        self.heavy_label = labels[heavy[0]]
        self.opt_groups = np.asarray(opt.geomgroup, bool).copy()
        self.scene = mujoco.MjvScene(model, maxgeom=maxgeom)
        self.label_lut = np.zeros(1 << 16, np.uint8)
        self.geom_lut = np.full(1 << 16, -1, np.int32)

    @classmethod
    def make(cls, model, labels, group, main_opt, maxgeom) -> SplitSeg | None:
        """``None`` unless ``group`` holds shown geoms of a single label."""
        if group is None or not main_opt.geomgroup[group]:
            return None
        heavy = np.flatnonzero(model.geom_group == group)
        if len(heavy) == 0 or len(set(labels[heavy].tolist())) != 1:
            return None
        opt = mujoco.MjvOption()
        opt.geomgroup[:] = main_opt.geomgroup[:]
        opt.geomgroup[group] = 0
        shown = np.flatnonzero(np.asarray(opt.geomgroup, bool)[np.clip(model.geom_group, 0, 5)])
        # mjr_render draws in geom order with GL_GEQUAL: a geom drawn after every heavy geom wins a
        # depth tie against them, as here; only the earlier geoms of another label can differ.
        early = shown[(shown < heavy.max()) & (labels[shown] != labels[heavy[0]])]
        return cls(model, labels, heavy, early, opt, maxgeom)

    def applies(self, data: mujoco.MjData, cam_id: int) -> bool:
        """No transparency and no plane seen from behind (mjr_render draws those without depth).
        Checked at each render: resets and randomization rewrite colours and groups."""
        m = self.model
        shown = self.opt_groups[np.clip(m.geom_group, 0, 5)]
        shown[self.heavy] = True
        alpha = m.geom_rgba[shown, 3]
        if (alpha < 0.995).any():
            return False
        if m.nmat:
            matid = m.geom_matid[shown]
            if (m.mat_rgba[matid[matid >= 0], 3] < 0.995).any():
                return False
        planes = np.flatnonzero(shown & (m.geom_type == mujoco.mjtGeom.mjGEOM_PLANE))
        normals = data.geom_xmat[planes].reshape(-1, 3, 3)[:, :, 2]
        return not (np.einsum("ni,ni->n", data.cam_xpos[cam_id] - data.geom_xpos[planes], normals) < 0).any()

    def _boxes(self, data: mujoco.MjData, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World axis-aligned boxes ``(lo, hi)`` of geoms' local bounding boxes."""
        aabb = self.model.geom_aabb[geoms]
        rot = data.geom_xmat[geoms].reshape(-1, 3, 3)
        center = data.geom_xpos[geoms] + np.einsum("nij,nj->ni", rot, aabb[:, :3])
        half = np.einsum("nij,nj->ni", np.abs(rot), aabb[:, 3:])
        return center - half, center + half

    def _touching(self, data: mujoco.MjData) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """``(early geom, lo, hi)`` of each heavy/early pair of boxes that meet (a tie needs that)."""
        lo_h, hi_h = self._boxes(data, self.heavy)
        lo_e, hi_e = self._boxes(data, self.early)
        meet = ((lo_h[:, None] <= hi_e[None] + 1e-3) & (lo_e[None] <= hi_h[:, None] + 1e-3)).all(axis=2)
        return [
            (int(self.early[e]), np.maximum(lo_h[h], lo_e[e]) - 1e-3, np.minimum(hi_h[h], hi_e[e]) + 1e-3)
            for h, e in zip(*np.nonzero(meet), strict=True)
        ]

    def update(self, data: mujoco.MjData, cam: mujoco.MjvCamera) -> None:
        """Fill the split scene (main thread, before the full pass)."""
        mujoco.mjv_updateScene(self.model, data, self.opt, None, cam, mujoco.mjtCatBit.mjCAT_ALL, self.scene)

    def buffers(self, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """Fresh ID-colour and depth buffers for one split pass."""
        return np.empty((height, width, 3), np.uint8), np.empty((height, width), np.float32)

    def draw(self, rect: mujoco.MjrRect, con: mujoco.MjrContext, ids: np.ndarray, depth: np.ndarray) -> None:
        """Draw the split scene in ID colours on ``con`` and read it back."""
        mujoco.mjr_render(rect, self.scene, con)
        mujoco.mjr_readPixels(ids, depth, rect, con)

    def labels_from_ids(self, data, cam_id: int, rect: mujoco.MjrRect, ids: np.ndarray) -> _Labels:
        """Everything that needs only the split pass (the thread does it while the full pass runs):
        the labels of its geoms, and the image boxes where a depth tie must be checked."""
        scene = self.scene
        h, w = rect.height, rect.width
        labels, geoms = self.label_lut, self.geom_lut
        n = scene.ngeom
        labels[: n + 1] = 0
        geoms[: n + 1] = -1
        # mjv_updateScene adds the shown geoms in model order, segid = scene index: read the
        # geom ids from the model; check the count and the last one, else ask every scene geom.
        shown = np.flatnonzero(self.opt_groups[np.clip(self.model.geom_group, 0, 5)])
        if len(shown) == n and (n == 0 or scene.geoms[n - 1].objid == shown[-1]):
            geoms[1 : n + 1] = shown
        else:
            geom_type = int(mujoco.mjtObj.mjOBJ_GEOM)
            for g in scene.geoms[:n]:
                if g.segid >= 0 and int(g.objtype) == geom_type:
                    geoms[g.segid + 1] = g.objid
        labels[1 : n + 1] = np.where(geoms[1 : n + 1] >= 0, self.labels[geoms[1 : n + 1]], 0)
        ids = ids[::-1]
        segid = (
            ids[..., 0] if n < 255 else np.minimum(ids[..., 0] | (ids[..., 1].astype(np.int32) << 8), len(labels) - 1)
        )
        checks = []
        touching = self._touching(data)
        if touching:
            K = model_intrinsics(self.model, cam_id, w, h)
            T = extrinsics(data.cam_xpos[cam_id], data.cam_xmat[cam_id])
            for geom, lo, hi in touching:
                corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
                uv, z = project(corners, K, T)
                if (z <= 0).any():
                    c0, r0, c1, r1 = 0, 0, w, h
                else:
                    c0, r0 = np.clip(np.floor(uv.min(axis=0)).astype(int) - 1, 0, [w, h])
                    c1, r1 = np.clip(np.ceil(uv.max(axis=0)).astype(int) + 1, 0, [w, h])
                box = (slice(r0, r1), slice(c0, c1))
                checks.append((box, geoms[segid[box]] == geom))
        return _Labels(labels[segid], checks)

    def resolve(self, part: _Labels, full_depth: np.ndarray, depth: np.ndarray) -> np.ndarray | None:
        """Pixels whose depth differs from the full pass's show the heavy geoms; ``None`` if the
        split pass's geom won a depth tie that the full pass may have given a heavy geom."""
        same = full_depth[::-1] == depth[::-1]
        seg = part.seg
        seg[~same] = self.heavy_label
        for box, won in part.checks:
            if (same[box] & won).any():
                return None
        return seg


@dataclass
class _Labels:
    """The split pass's labels (rows top-down) and the tie checks left to do with the full depth."""

    seg: np.ndarray
    checks: list[tuple[tuple[slice, slice], np.ndarray]]

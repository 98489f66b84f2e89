"""The shape builders behind ``assets.variants``: closed meshes filling an object's size box.

Each builder takes the size ``(dx, dy, dz)`` and returns coloured mesh pieces (≤ 4, one geom
each) in the object frame: origin at the bottom centre, z up, +x the front (a mug's handle, a
marker's cap), built roughly to size and then fitted exactly to the box (``_fit``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from roboref.assets import meshgen as mg

#: Deepest container opening (m): "inside" counts pixels within 3 cm of the rim.
MAX_RECESS = 0.012

Piece = tuple[str | None, mg.Mesh]  # (colour: None = the object's main colour, mesh)


def box_height(category: str, size) -> float:
    """Actual height of the object (a plate's size z is its rim; its centre stands 1.6× higher)."""
    return size[2] * 1.6 - 0.001 if category == "plate" else size[2]


def _fit(pieces: list[Piece], size, height: float) -> list[Piece]:
    """Scale and shift all pieces together so their union exactly fills the size box."""
    verts = np.concatenate([m[0] for _, m in pieces])
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    target_lo = np.array([-size[0] / 2, -size[1] / 2, 0.0])
    target_hi = np.array([size[0] / 2, size[1] / 2, height])
    scale = (target_hi - target_lo) / (hi - lo)
    return [(c, ((m[0] - lo) * scale + target_lo, m[1])) for c, m in pieces]


def _recessed(profile: list[tuple[float, float]], rim: float = 0.004, depth: float = 0.01):
    """Close an outer lathe profile ending at the rim ``(R, h)`` with a recess ``depth`` deep."""
    r, h = profile[-1]
    return [*profile, (r - rim, h), (r - rim - 0.002, h - depth), (0.0, h - depth)]


def _wavy(r0: float, r1: float, h0: float, h1: float, fn: Callable[[float], float], n: int = 8):
    """Profile points from height h0 to h1 with radius ``r0 + (r1 - r0) * fn(t)``."""
    return [(r0 + (r1 - r0) * fn(t), h0 + (h1 - h0) * t) for t in np.linspace(0.0, 1.0, n)]


# --- containers ----------------------------------------------------------------------------------


def _handle(x_wall: float, x_out: float, z_lo: float, z_hi: float, r: float) -> mg.Mesh:
    t = np.linspace(-math.pi / 2, math.pi / 2, 12)
    zc, zr = (z_lo + z_hi) / 2, (z_hi - z_lo) / 2
    path = np.stack([x_wall + (x_out - r - x_wall) * np.cos(t), np.zeros_like(t), zc + zr * np.sin(t)], axis=1)
    return mg.tube(path, np.full(len(t), r), 8)


def mug(shape: str):
    def build(s):
        dx, d, h = s
        R, cx = d / 2, -(dx - d) / 2
        if shape == "tapered":
            prof = _wavy(0.8 * R, R, 0.0, h, lambda t: t, 4)
        else:  # barrel
            prof = _wavy(0.86 * R, R, 0.0, h, lambda t: math.sin(math.pi * (0.15 + 0.7 * t)), 9)
            prof[-1] = (0.9 * R, h)
        body = mg.transform(mg.lathe(_recessed([(0.0, 0.0), *prof], depth=MAX_RECESS)), shift=(cx, 0, 0))
        wall = cx + (0.88 if shape == "tapered" else 0.9) * R - 0.003
        handle = _handle(wall, dx / 2, 0.25 * h, 0.78 * h, 0.0055)
        return _fit([(None, body), (None, handle)], s, h)

    return build


def cup(shape: str):
    def build(s):
        d, _, h = s
        R = d / 2
        if shape == "paper":
            prof = [(0.72 * R, 0.0), (0.93 * R, h - 0.006), (R, h - 0.004), (R, h)]
        else:  # tumbler: waisted
            prof = _wavy(0.78 * R, R, 0.0, h, lambda t: abs(math.cos(math.pi * t)) ** 1.5, 9)
        return _fit([(None, mg.lathe(_recessed([(0.0, 0.0), *prof])))], s, h)

    return build


def bowl(shape: str):
    def build(s):
        d, _, h = s
        R = d / 2
        if shape == "round":
            foot = [(0.42 * R, 0.0), (0.44 * R, 0.008)]
            prof = [*foot, *_wavy(0.44 * R, R, 0.008, h, lambda t: math.sin(math.pi / 2 * t) ** 0.7, 7)[1:]]
        else:  # flared cone
            prof = [(0.5 * R, 0.0), (0.55 * R, 0.006), (R, h)]
        return _fit([(None, mg.lathe(_recessed([(0.0, 0.0), *prof], 0.005, MAX_RECESS)))], s, h)

    return build


def jar(shape: str):
    def build(s):
        d, _, h = s
        R = d / 2
        if shape == "mason":
            body = [(0.97 * R, 0.0), (R, 0.01), (R, 0.72 * h), (0.86 * R, 0.84 * h), (0.82 * R, h - 0.018)]
        else:  # squat, round-shouldered
            body = [*_wavy(0.8 * R, R, 0.0, 0.5 * h, lambda t: math.sin(math.pi / 2 * t), 5), (0.9 * R, 0.75 * h)]
            body += [(0.78 * R, h - 0.018)]
        lid_r = body[-1][0] + 0.003
        lid = [(0.0, h - 0.02), (lid_r, h - 0.02), (lid_r, h - 0.003), (lid_r - 0.003, h), (0.0, h)]
        return _fit([(None, mg.lathe([(0.0, 0.0), *body, (0.0, h - 0.018)])), ("gray", mg.lathe(lid))], s, h)

    return build


# --- flat supports ---------------------------------------------------------------------------------


def plate(shape: str):
    def build(s):
        d, _, h = s
        R, top = d / 2, box_height("plate", s)
        if shape == "rimmed":
            prof = [(0.0, 0.0), (0.6 * R, 0.0), (R, 0.6 * h), (R, h), (0.74 * R, h), (0.68 * R, top), (0.0, top)]
            return _fit([(None, mg.lathe(prof, 32))], s, top)
        base = mg.extrude(mg.rounded_rect(d, d, 0.2 * d), 0.0, h, bevel=0.002)
        centre = mg.extrude(mg.rounded_rect(0.68 * d, 0.68 * d, 0.1 * d), h - 0.001, top)
        return _fit([(None, base), ("white", centre)], s, top)

    return build


def box(shape: str):
    def build(s):
        dx, dy, dz = s
        if shape == "rounded":
            return _fit([(None, mg.extrude(mg.rounded_rect(dx, dy, 0.012), 0.0, dz, bevel=0.003))], s, dz)
        lid_h = 0.22 * dz
        body = mg.extrude(mg.rounded_rect(dx - 0.008, dy - 0.008, 0.004, 2), 0.0, dz - lid_h + 0.001)
        lid = mg.extrude(mg.rounded_rect(dx, dy, 0.004, 2), dz - lid_h, dz)
        return _fit([(None, body), (None, lid)], s, dz)

    return build


def _side_extrusion(outline: list[tuple[float, float]], dy: float) -> mg.Mesh:
    """A counter-clockwise outline in the (x, z) plane extruded across y."""
    v, f = mg.extrude(np.asarray(outline), -dy / 2, dy / 2)
    return v[:, [0, 2, 1]], f[:, ::-1]  # swap y and z (a mirror: flip the winding back)


def book(shape: str):
    def build(s):
        dx, dy, dz = s
        if shape == "hardcover":  # square spine, boards standing 6 mm proud of the pages
            board = 0.14 * dz
            spine = mg.extrude(mg.rounded_rect(0.005, dy, 0.001, 1), board, dz - board)
            covers = mg.merge(
                mg.extrude(mg.rounded_rect(dx, dy, 0.002, 1), 0.0, board),
                mg.extrude(mg.rounded_rect(dx, dy, 0.002, 1), dz - board, dz),
                mg.transform(spine, shift=(-dx / 2 + 0.0025, 0, 0)),
            )
            pages = mg.extrude(mg.rounded_rect(dx - 0.011, dy - 0.008, 0.001, 1), board, dz - board)
            pages = mg.transform(pages, shift=(-0.0005, 0, 0))
            return _fit([(None, covers), ("white", pages)], s, dz)
        # paperback: rounded spine at -x, the page block's rounded edge (white) at the front
        r = 0.45 * dz
        x0, cx = dx / 2 - r, -dx / 2 + dz / 2
        left = [(x0, 0.0), (x0, dz)]
        left += [
            (cx + dz / 2 * math.cos(t), dz / 2 + dz / 2 * math.sin(t))
            for t in np.linspace(math.pi / 2, 1.5 * math.pi, 9)
        ]
        front = [
            (x0 - 0.001 + r * math.cos(t), dz / 2 + r * math.sin(t)) for t in np.linspace(-math.pi / 2, math.pi / 2, 9)
        ]
        return _fit([(None, _side_extrusion(left, dy)), ("white", _side_extrusion(front, dy - 0.004))], s, dz)

    return build


# --- tall and round things --------------------------------------------------------------------------


def bottle(shape: str):
    def build(s):
        d, _, h = s
        R, cap_h = d / 2, 0.02
        if shape == "wine":
            body = [(0.95 * R, 0.0), (R, 0.01), (R, 0.55 * h), (0.75 * R, 0.66 * h), (0.4 * R, 0.72 * h)]
            body += [(0.3 * R, 0.78 * h), (0.3 * R, h - cap_h)]
        else:  # soda: waisted body, short neck
            body = [(0.9 * R, 0.0), (R, 0.02), (0.8 * R, 0.3 * h), (R, 0.5 * h), (R, 0.62 * h)]
            body += [(0.5 * R, 0.86 * h), (0.42 * R, h - cap_h)]
        cap_r = body[-1][0] + 0.002
        cap = [(0.0, h - cap_h - 0.002), (cap_r, h - cap_h - 0.002), (cap_r, h), (0.0, h)]
        return _fit([(None, mg.lathe([(0.0, 0.0), *body, (0.0, h - cap_h)])), ("white", mg.lathe(cap))], s, h)

    return build


def can(shape: str):
    def build(s):
        d, _, h = s
        R, lid_h = d / 2, 0.004
        if shape == "soda":
            body = [(0.8 * R, 0.0), (0.86 * R, 0.004), (R, 0.016), (R, h - 0.035), (0.76 * R, h - lid_h)]
        else:  # food tin: rolled rims, a ribbed narrower body
            z = np.linspace(0.012, h - lid_h - 0.012, 11)
            body = [(R, 0.0), (R, 0.008), (0.9 * R, 0.01)]
            body += [(0.9 * R if i % 2 == 0 else 0.86 * R, float(zi)) for i, zi in enumerate(z)]
            body += [(0.9 * R, h - lid_h - 0.01), (R, h - lid_h - 0.008), (R, h - lid_h)]
        lid_r = body[-1][0] - 0.001
        lid = [(0.0, h - lid_h - 0.001), (lid_r, h - lid_h - 0.001), (lid_r, h), (0.0, h)]
        return _fit([(None, mg.lathe([(0.0, 0.0), *body, (0.0, h - lid_h)])), ("gray", mg.lathe(lid))], s, h)

    return build


def block(shape: str):
    def build(s):
        a = s[0]
        if shape == "bevelled":
            return _fit([(None, mg.extrude(mg.rounded_rect(a, a, 0.004, 2), 0.0, a, bevel=0.005))], s, s[2])
        return _fit([(None, mg.extrude(mg.regular_polygon(6, a / 2), 0.0, a))], s, s[2])

    return build


def ball(shape: str):
    def build(s):
        if shape == "faceted":
            return _fit([(None, mg.icosphere(s[2] / 2, 1))], s, s[2])
        seams = mg.lathe(
            [(0.0, -1.0), *[(math.sin(t), -math.cos(t)) for t in np.linspace(0.2, math.pi - 0.2, 9)], (0.0, 1.0)]
        )
        return _fit([(None, mg.transform(seams, rotate=mg.ROT_Z_TO_X))], s, s[2])

    return build


def fruit(profile: Callable[[float, float], list[tuple[float, float]]], stem_color: str, stem_len: float):
    def build(s):
        d, _, h = s
        body_h = h - stem_len
        body = mg.lathe(profile(d / 2, body_h))
        top = max(z for r, z in profile(d / 2, body_h) if r < 0.35 * d / 2)
        t = np.linspace(0.0, 1.0, 4)
        path = np.stack([0.002 * t**2, np.zeros(4), top - 0.004 + (h - top + 0.004) * t], axis=1)
        stem = mg.tube(path, np.full(4, 0.0025), 6)
        return _fit([(None, body), (stem_color, stem)], s, h)

    return build


def apple_round(R, hb):
    return [
        (0.0, 0.006),
        (0.45 * R, 0.0),
        *_wavy(0.7 * R, R, 0.15 * hb, 0.6 * hb, lambda t: math.sin(t * 2), 4)[1:],
    ] + [
        (0.8 * R, 0.95 * hb),
        (0.35 * R, hb),
        (0.0, hb - 0.008),
    ]


def apple_tall(R, hb):
    return [(0.0, 0.004), (0.3 * R, 0.0), (0.55 * R, 0.12 * hb), (0.95 * R, 0.55 * hb), (R, 0.75 * hb)] + [
        (0.8 * R, 0.97 * hb),
        (0.35 * R, hb),
        (0.0, hb - 0.01),
    ]


def mandarin(R, hb):
    return [
        (0.0, 0.002),
        *[(R * math.sin(t), hb / 2 * (1 - math.cos(t))) for t in np.linspace(0.3, math.pi - 0.3, 9)],
    ] + [(0.0, hb - 0.002)]


def nubbed(R, hb):
    body = [(R * math.sin(t), 0.45 * hb * (1 - math.cos(t))) for t in np.linspace(0.3, 0.8 * math.pi, 8)]
    return [(0.0, 0.002), *body, (0.35 * R, 0.82 * hb), (0.3 * R, 0.97 * hb), (0.15 * R, hb), (0.0, hb)]


def banana(bend: float, fat: float):
    def build(s):
        length, dy, h = s
        t = np.linspace(-1.0, 1.0, 15)
        arc = bend * t
        radius = length / (2 * math.sin(bend))
        radii = h / 2 * (1 - (1 - fat) * t**2) * np.where(t > 0.85, 0.7, 1.0)
        # the tube's underside stays on z = 0 along its length: it lies flat, it does not rock
        path = np.stack([radius * np.sin(arc), radius * (np.cos(arc) - 1), radii], axis=1)
        body = mg.tube(path, radii, 8)
        tip = mg.tube(
            np.stack([path[-1], path[-1] + 0.012 * (path[-1] - path[-2]) / np.linalg.norm(path[-1] - path[-2])]),
            np.full(2, 0.0045),
            6,
        )
        return _fit([(None, body), ("brown", tip)], s, h)

    return build


def marker(shape: str):
    def build(s):
        length, d, _ = s
        r = d / 2
        body_len = length - 0.045
        if shape == "hex":  # a pencil: long sharpened point, short end cap
            body_len = length - 0.048
            body = mg.extrude(mg.regular_polygon(6, r, math.pi / 6), 0.0, body_len)
            cap = mg.lathe(
                [(0.0, body_len - 0.001), (0.95 * r, body_len - 0.001), (0.9 * r, length - 0.03), (0.0, length - 0.03)],
                16,
            )
            tip = mg.lathe([(0.0, -0.03), (0.15 * r, -0.029), (0.95 * r, 0.001), (0.0, 0.001)], 12)
        else:  # a marker: slim barrel, stepped cap
            body = mg.lathe([(0.0, 0.0), (0.6 * r, 0.0), (0.85 * r, 0.012), (0.85 * r, body_len), (0.0, body_len)], 16)
            cap = mg.lathe(
                [
                    (0.0, body_len - 0.001),
                    (r, body_len - 0.001),
                    (r, length - 0.02),
                    (0.7 * r, length - 0.015),
                    (0.0, length - 0.015),
                ],
                16,
            )
            tip = mg.lathe([(0.0, -0.015), (0.25 * r, -0.014), (0.5 * r, 0.001), (0.0, 0.001)], 12)
        pieces = [(c, mg.transform(m, rotate=mg.ROT_Z_TO_X)) for c, m in ((None, body), (None, cap), ("white", tip))]
        return _fit(pieces, s, d)

    return build

"""The bank a compiled world carries for domain randomization (``envs/randomization.py``).

A compiled model cannot gain textures, lights or geoms, so ``compose_world`` adds them all up
front, unused: textures and materials for the table, floor, backdrop and objects, extra lights,
distractor geoms and a backdrop in the hidden group.
"""

from __future__ import annotations

import mujoco

#: Randomization assets (``add_randomization_assets``): surfaces with their own texture, object
#: textures, extra lights and distractor geoms; all unused, inactive or hidden by default.
RAND_SURFACES = ("table", "floor", "backdrop")
RAND_OBJECT_TEXTURES = 8
RAND_LIGHTS = 3
RAND_DISTRACTORS = 6
RAND_PREFIX = "rand/"


def add_randomization_assets(spec: mujoco.MjSpec, hidden_group: int) -> None:
    """Add the texture/material bank, extra lights, distractors and a backdrop that
    ``envs/randomization.py`` fills and turns on at reset: a compiled model cannot gain textures,
    lights or geoms, but their pixels, ``light_active`` and ``geom_group`` can change. Until then
    nothing shows: materials are unassigned, lights inactive, geoms in the hidden group, so the
    default envs render bit for bit as without them. Added last, after every other geom, so the
    split segmentation's depth-tie check (camera.Renderer) never has to consider them."""
    names = [*RAND_SURFACES, *(f"obj{i}" for i in range(RAND_OBJECT_TEXTURES))]
    for name in names:
        size = 128 if name in RAND_SURFACES else 64
        spec.add_texture(
            name=f"{RAND_PREFIX}tex_{name}",
            type=mujoco.mjtTexture.mjTEXTURE_2D,
            builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER,  # placeholder pixels, rewritten at reset
            width=size,
            height=size,
            nchannel=3,
            rgb1=[1, 1, 1],
            rgb2=[0.8, 0.8, 0.8],
        )
        mat = spec.add_material(name=f"{RAND_PREFIX}mat_{name}", texuniform=True, texrepeat=[1, 1])
        mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = f"{RAND_PREFIX}tex_{name}"
    wb = spec.worldbody
    for i in range(RAND_LIGHTS):
        wb.add_light(
            name=f"{RAND_PREFIX}light{i}",
            active=False,
            castshadow=False,
            pos=[0.0, 0.0, 2.5],
            dir=[0.0, 0.0, -1.0],
            diffuse=[0.3, 0.3, 0.3],
            specular=[0.05, 0.05, 0.05],
        )
    hidden = {"group": hidden_group, "contype": 0, "conaffinity": 0}
    for i in range(RAND_DISTRACTORS):
        wb.add_geom(
            name=f"{RAND_PREFIX}distractor{i}",
            type=mujoco.mjtGeom.mjGEOM_BOX,
            size=[0.05, 0.05, 0.05],
            pos=[0.0, 0.0, -3.0 - 0.2 * i],
            rgba=[0.5, 0.5, 0.5, 1.0],
            **hidden,
        )
    wb.add_geom(
        name=f"{RAND_PREFIX}backdrop",
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=[0.02, 2.6, 1.5],
        pos=[-1.7, 0.0, 1.5],
        rgba=[1.0, 1.0, 1.0, 1.0],
        **hidden,
    )

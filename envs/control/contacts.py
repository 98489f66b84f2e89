"""Contacts: what touches a held or targeted object, and how hard the robot pushes the scene.

A grasp is physical: an object counts as held only by the contacts physics reports (no welds,
except the G1's explicit assisted option).
"""

from __future__ import annotations

from collections.abc import Callable

import mujoco
import numpy as np

from roboref.envs.control.config import ControlConfig
from roboref.envs.control.errors import ControlError
from roboref.envs.control.state import Binding, Run
from roboref.envs.sim import Sim


def touching(sim: Sim, slot: int) -> set[int]:
    """Geoms in contact with object ``slot`` (its own geoms excluded)."""
    d = sim.data
    obj = set(sim.world.slot_geoms[slot].tolist())
    out = set()
    for i in range(d.ncon):
        g1, g2 = int(d.contact[i].geom1), int(d.contact[i].geom2)
        if g1 in obj:
            out.add(g2)
        elif g2 in obj:
            out.add(g1)
    return out


class Contacts:
    """Contact checks, mixed into ``Controller``; robots say what their fingers are."""

    config: ControlConfig

    def finger_contacts(self, b: Binding, slot: int) -> tuple[bool, bool]:
        """Whether the object touches each side of the hand (both → held between them)."""
        raise NotImplementedError

    def _holding(self, b: Binding, slot: int) -> bool:
        """The object is in the hand: touched by the hand and by nothing but the robot (or by
        both sides of the hand, when it still rests on something)."""
        sides = self.finger_contacts(b, slot)
        if all(sides):
            return True
        if not any(sides):
            return False
        sim = b.sim
        d, obj, robot = sim.data, set(sim.world.slot_geoms[slot].tolist()), b.robot_geoms
        for i in range(d.ncon):
            g1, g2 = int(d.contact[i].geom1), int(d.contact[i].geom2)
            other = g2 if g1 in obj else g1 if g2 in obj else None
            if other is not None and other not in robot:
                return False
        return True

    def _contact_force(self, b: Binding, target: int) -> tuple[float, str]:
        """Largest normal force (N) between the robot and the table or a non-target object, and
        what it pushes."""
        sim = b.sim
        m, d, w = sim.model, sim.data, sim.world
        robot, table = b.robot_geoms, b.table_geoms
        target_geoms = set(w.slot_geoms[target].tolist()) if target >= 0 else set()
        worst, what = 0.0, ""
        f = np.zeros(6)
        for i in range(d.ncon):
            c = d.contact[i]
            g1, g2 = int(c.geom1), int(c.geom2)
            if (g1 in robot) == (g2 in robot):
                continue
            other = g2 if g1 in robot else g1
            if other in target_geoms or other not in table and m.geom_bodyid[other] == 0:
                continue
            mujoco.mj_contactForce(m, d, i, f)
            if f[0] > worst:
                worst = float(f[0])
                what = "the table" if other in table else f"object {int(np.where(w.slot_geoms == other)[0][0])}"
        return worst, what

    def _collision_monitor(self, run: Run, target: int) -> Callable[[], None]:
        """A check to run every control period: pushing harder than ``collision_force`` on
        anything but the target is a ``collision``."""

        def check() -> None:
            force, what = self._contact_force(run.b, target)
            if force > self.config.collision_force:
                raise ControlError("collision", f"robot hit {what} with {force:.0f} N")

        return check

"""What a controller is asked to do (``Action``) and its tunable numbers (``ControlConfig``)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ControlConfig:
    """Tunable numbers of a pick / place (metres, seconds, radians)."""

    camera: str = "agent"
    approach_height: float = 0.12  # pre-grasp above the grasp point
    lift_height: float = 0.15  # how far a pick lifts
    carry_clearance: float = 0.10  # held object's bottom above the highest thing on the table
    #: How far a carry via point (up, over) may miss: it is in free space, carry_clearance above
    #: everything; the grasp, lift and lowering to the place point keep IK's 2 mm.
    carry_tolerance: float = 0.02
    place_clearance: float = 0.008  # held object's bottom above the surface when released
    place_radius: float = 0.04  # target region: object centre within this of the place point
    min_lift: float = 0.05  # a pick counts as lifted at this height gain
    joint_speed: float = 2.0  # rad/s for free moves
    cartesian_speed: float = 0.25  # m/s for approach, descent and lift
    close_time: float = 0.6
    open_time: float = 0.4
    settle_time: float = 0.5  # after release, before the stability check
    max_sim_time: float = 30.0  # per action; beyond it the action ends with "timeout"
    max_tilt: float = math.radians(20.0)  # placed object tilt beyond this is "unstable"
    max_rest_speed: float = 0.05  # m/s; faster than this after settling is "unstable"
    collision_force: float = 30.0  # N between robot and table / other objects on the way in
    return_home: bool = True
    assisted_grasp: bool = False  # G1 only: an explicit, off-by-default weld-assisted grasp


@dataclass(frozen=True)
class Action:
    """A pick point, a place point, or both (pick then place), normalized in ``camera``'s image."""

    pick: tuple[float, float] | None = None
    place: tuple[float, float] | None = None

    @property
    def kind(self) -> str:
        if self.pick is not None and self.place is not None:
            return "pick_place"
        return "pick" if self.pick is not None else "place"

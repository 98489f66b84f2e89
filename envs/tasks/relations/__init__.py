"""The 31 spatial relations of DESIGN.md: a ``Relation`` base (``base.py``), shared geometry
(``geometry.py``) and one module per group, as RoboRefer's data groups them.

Distances are metres in code and centimetres in text. Camera-centric terms: left/right = camera X,
front (nearer the camera)/behind = camera depth Z; object-centric: the object's own +x front.
Each relation's docstring states its maths and margins.
"""

from __future__ import annotations

from roboref.envs.tasks.relations.base import Params, Relation
from roboref.envs.tasks.relations.metric import METRIC
from roboref.envs.tasks.relations.orientation import ORIENTATION
from roboref.envs.tasks.relations.position import POSITION
from roboref.envs.tasks.relations.region import REGION
from roboref.envs.tasks.relations.selection import SELECTION
from roboref.envs.tasks.relations.size import SIZE

#: name -> relation, in DESIGN.md's order (the sampler draws by index, so the order is part of
#: what a seed means).
RELATIONS: dict[str, Relation] = {r.name: r for r in (*POSITION, *SELECTION, *SIZE, *METRIC, *ORIENTATION, *REGION)}


def get_relation(name: str) -> Relation:
    """The relation called ``name``; a clear error listing the known ones otherwise."""
    try:
        return RELATIONS[name]
    except KeyError:
        raise ValueError(f"unknown relation {name!r}; known relations: {', '.join(RELATIONS)}") from None


__all__ = ["RELATIONS", "Params", "Relation", "get_relation"]

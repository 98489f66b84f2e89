"""The spatial-referring task engine: task records, the relations, programs and task samplers.

- ``relations/``: the 31 relations (a ``Relation`` base, one module per group);
- ``program``: a program as data (``Step``, ``spec``) and its execution on a ``SceneView``;
- ``sampling``: ``TaskConfig``, the train / unseen splits and ``sample_task``;
- ``language``: instruction templates, anchor names, phrases and the reasoning trace;
- ``view``: the scene facts the engine reasons over; ``records``: the task records.
"""

from roboref.envs.tasks.color_category import sample_color_category_task
from roboref.envs.tasks.program import Step, evaluate_location, evaluate_placement, reevaluate, steps_from_spec
from roboref.envs.tasks.records import (
    AgentOutput,
    NoTaskError,
    ReasoningStep,
    ReferringTask,
    mask_to_rle,
    rle_to_mask,
)
from roboref.envs.tasks.relations import RELATIONS, Relation, get_relation
from roboref.envs.tasks.sampling import (
    KINDS,
    SPLITS,
    UNSEEN_CATEGORIES,
    UNSEEN_COLORS,
    UNSEEN_RELATION_PAIRS,
    TaskConfig,
    sample_task,
)
from roboref.envs.tasks.view import ObjectFacts, SceneView

__all__ = [
    "KINDS",
    "RELATIONS",
    "SPLITS",
    "UNSEEN_CATEGORIES",
    "UNSEEN_COLORS",
    "UNSEEN_RELATION_PAIRS",
    "AgentOutput",
    "NoTaskError",
    "ObjectFacts",
    "ReasoningStep",
    "ReferringTask",
    "Relation",
    "SceneView",
    "Step",
    "TaskConfig",
    "evaluate_location",
    "evaluate_placement",
    "get_relation",
    "mask_to_rle",
    "reevaluate",
    "rle_to_mask",
    "sample_color_category_task",
    "sample_task",
    "steps_from_spec",
]

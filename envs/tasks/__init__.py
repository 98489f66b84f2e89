"""The spatial-referring task engine: task records and task samplers."""

from roboref.envs.tasks.color_category import sample_color_category_task
from roboref.envs.tasks.records import (
    AgentOutput,
    NoTaskError,
    ReasoningStep,
    ReferringTask,
    mask_to_rle,
    rle_to_mask,
)

__all__ = [
    "AgentOutput",
    "NoTaskError",
    "ReasoningStep",
    "ReferringTask",
    "mask_to_rle",
    "rle_to_mask",
    "sample_color_category_task",
]

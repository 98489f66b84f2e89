"""Every record round-trips through its dict form (DESIGN.md: records serializable to JSON)."""

import json

import gymnasium as gym
import numpy as np

import roboref.envs  # noqa: F401  (registers the env ids)
from roboref.envs.camera import CameraSpec
from roboref.envs.control.result import ExecutionResult
from roboref.envs.scene import ObjectSpec, SceneSpec
from roboref.envs.tasks import AgentOutput, ReasoningStep, ReferringTask


def _via_json(d: dict) -> dict:
    return json.loads(json.dumps(d))


def test_scene_and_task_from_an_episode_round_trip():
    env = gym.make("roboref/Refer-UR5e-v0")
    _, info = env.reset(seed=3)
    scene = SceneSpec.from_dict(_via_json(info["scene"]))
    assert scene == env.unwrapped.scene and isinstance(scene.objects[0].size, tuple)
    task = ReferringTask.from_dict(_via_json(info["task"]))
    original = env.unwrapped.task
    assert np.array_equal(task.mask, original.mask) and task.mask.dtype == bool
    assert task.steps == original.steps and task.point == original.point
    assert task.to_dict() == original.to_dict()
    env.close()


def test_small_records_round_trip():
    obj = ObjectSpec("mug", "red", (0.08, 0.08, 0.1), (0.1, -0.2, 0.8), (0.0, 0.0, 0.0, 1.0))
    assert ObjectSpec.from_dict(_via_json(obj.to_dict())) == obj
    cam = CameraSpec("agent", (0.75, 0.0, 1.62), (-0.18, 0.0, 0.8), 60.0, 320, 240)
    assert CameraSpec.from_dict(_via_json(cam.to_dict())) == cam
    step = ReasoningStep("Size", "red mug", (0.08, 0.08, 0.1))
    assert ReasoningStep.from_dict(_via_json(step.to_dict())) == step
    out = AgentOutput(point=(0.25, 0.5), text="[(0.25, 0.5)]", steps=(step,))
    assert AgentOutput.from_dict(_via_json(out.to_dict())) == out
    res = ExecutionResult(
        robot="ur5e", action="pick", success=False, failure="dropped", grasped=True, target_object=2,
        object_pos=(0.1, 0.2, 0.8), object_quat=(1.0, 0.0, 0.0, 0.0), message="slipped",
    )  # fmt: skip
    assert ExecutionResult.from_dict(_via_json(res.to_dict())) == res

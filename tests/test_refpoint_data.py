"""RefPoint's sample shards: which errors skip a seed (and are counted), which choose the G1 fallback."""

import numpy as np
import pytest

from roboref.agents.refpoint import data
from roboref.envs.tasks.records import NoTaskError


def spec(count: int, split: str = "train", start: int = 0) -> data.ShardSpec:
    return data.ShardSpec("ur5e", split, start, count, 112, 28, 3.0)


class _Broken:
    """An env whose every reset raises ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def reset(self, *, seed=None, options=None):
        raise self.error

    def close(self) -> None:
        pass


def test_an_error_other_than_no_task_propagates(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "make_train_env", lambda robot: _Broken(RuntimeError("a bug in reset")))
    with pytest.raises(RuntimeError, match="a bug in reset"):
        data.generate_shard(spec(2), tmp_path)
    monkeypatch.setattr(data, "make_train_env", lambda robot: _Broken(NoTaskError("none")))
    with pytest.raises(ValueError, match="none of its 2 seeds gave a task"):
        data.generate_shard(spec(2), tmp_path)


def test_seeds_without_a_task_are_skipped_counted_and_logged(monkeypatch, tmp_path, caplog):
    make = data.make_train_env
    first = spec(2).seed(0)

    def env_without_first_task(robot):
        env = make(robot)
        reset = env.reset

        def patched(*, seed=None, options=None):
            if seed == first:
                raise NoTaskError("test: no program")
            return reset(seed=seed, options=options)

        env.reset = patched
        return env

    monkeypatch.setattr(data, "make_train_env", env_without_first_task)
    with caplog.at_level("WARNING", logger="roboref.agents.refpoint.data"):
        (path,) = data.build_cache([spec(2)], tmp_path, progress=False)
    assert "skipped 1 seed(s) of 1 new shard(s) (NoTaskError: 1)" in caplog.text
    with np.load(path) as z:
        assert z["seed"].tolist() == [spec(2).seed(1)]


def _make_failing_once(monkeypatch, error: Exception) -> list[dict]:
    """``gym.make`` raising ``error`` on its first call; returns the kwargs of every call."""
    import gymnasium as gym

    calls: list[dict] = []

    def fake_make(env_id, **kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise error
        return "env"

    monkeypatch.setattr(gym, "make", fake_make)
    return calls


def test_an_error_mentioning_do_not_fit_is_not_taken_for_a_scene_fit(monkeypatch):
    calls = _make_failing_once(monkeypatch, ValueError("these images do not fit in memory"))
    with pytest.raises(ValueError, match="images do not fit"):  # the old text match fell back
        data.make_train_env("g1")
    assert len(calls) == 1


def test_a_scene_fit_error_chooses_fewer_objects(monkeypatch):
    from roboref.envs.scene import SceneFitError

    calls = _make_failing_once(monkeypatch, SceneFitError("15 objects too many"))  # any message
    assert data.make_train_env("g1") == "env" and calls[-1]["num_objects"] == (4, 14)

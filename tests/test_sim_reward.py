import gymnasium as gym

from roboref.sim_reward import SimOutcomeReward


def test_sim_outcome_reward_executes_completions():
    env_kwargs = {"kinds": ["location"], "num_steps": [1, 2]}
    env = gym.make("roboref/Refer-UR5e-v0", **env_kwargs)
    rows = []
    for seed in (11, 12):
        env.reset(seed=seed)
        t = env.unwrapped.task
        rows.append((seed, t.instruction, f"[({t.point[0]:.4f}, {t.point[1]:.4f})]"))
    env.close()
    reward = SimOutcomeReward(env_kwargs, workers=1)
    seeds = [r[0] for r in rows] + [rows[0][0], rows[0][0]]
    instructions = [r[1] for r in rows] + [rows[0][1], "something else"]
    completions = [r[2] for r in rows] + ["[(1000, 5)]", rows[0][2]]
    scores = reward(prompts=[""] * 4, completions=completions, seed=seeds, instruction=instructions, robot=["ur5e"] * 4)
    assert sum(scores[:2]) >= 1.0  # the oracle points get picked up (UR5e picks ~90 %+)
    assert scores[2] == 0.0 and "pixel" in reward.last_reasons[2]
    assert scores[3] == 0.0 and "reproduce" in reward.last_reasons[3]
    assert reward.__name__ == "roboref_outcome"


def test_grpo_with_the_simulator_in_the_loop_logs_the_outcome_term(tmp_path):
    import csv
    import json

    from roboref.cli import main

    out = tmp_path / "rft_sim"
    args = [
        "train",
        "vlm-rft",
        f"out={out}",
        "trainer.max_steps=2",
        "trainer.save_steps=2",
        "data.num_samples=4",
        "reward.sim_outcome.enabled=true",
    ]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reward_terms"][-1] == "roboref_outcome" and summary["reward_weights"][-1] == 0.5
    rows = [r for r in csv.DictReader(open(out / "metrics.csv")) if r.get("loss")]
    assert len(rows) == 2 and all("rewards/roboref_outcome/mean" in r for r in rows)
    assert all(0.0 <= float(r["rewards/roboref_outcome/mean"]) <= 1.0 for r in rows)


def test_only_expected_failures_score_zero_and_are_counted(caplog):
    """A seed the task engine has no program for (one object cannot be 'between' two) scores 0,
    counted and logged by reason; any other error (an impossible env config) propagates."""
    import pytest

    reward = SimOutcomeReward({"num_objects": [1, 1], "relations": ["between"], "num_steps": [2, 2]}, workers=1)
    with caplog.at_level("WARNING", logger="roboref.sim_reward"):
        scores = reward(completions=["[(0.5, 0.5)]"] * 2, seed=[7, None], robot=["ur5e", "ur5e"])
    reward.close()
    assert scores == [0.0, 0.0]
    assert reward.last_reasons[0].startswith("NoTaskError: no valid referring program in 50 scenes")
    assert reward.last_reasons[1] == "row has no seed"
    assert reward.skipped == {"NoTaskError": 1, "no seed": 1}
    assert "scored 2 of 2 completions 0" in caplog.text and "NoTaskError" in caplog.text

    broken = SimOutcomeReward({"num_objects": [40, 40]}, workers=1)
    with pytest.raises(ValueError, match="num_objects"):  # not a silent reward of 0
        broken(completions=["[(0.5, 0.5)]"], seed=[7], robot=["ur5e"])


# --- issue 18: GRPO groups executed together ------------------------------------------------


def _groups(kind: str, seeds, size: int):
    """``(seed, instruction, texts)`` per seed of a ``kind``-only env: points inside the
    ground-truth mask (every one needs an execution), one on another object or free table,
    one off the table (the image's top corner: background), one that does not parse."""
    import numpy as np

    env = gym.make("roboref/Refer-UR5e-v0", kinds=[kind])
    out = []
    for seed in seeds:
        env.reset(seed=seed)
        u = env.unwrapped
        mask, seg = u.task.mask, u.frame.seg
        rng = np.random.default_rng(seed)
        rows, cols = np.nonzero(mask)
        h, w = mask.shape
        pts = [((cols[k] + 0.5) / w, (rows[k] + 0.5) / h) for k in rng.integers(len(rows), size=size)]
        other = np.argwhere((seg > 0) & (seg < 254) & ~mask)
        if len(other):
            r, c = other[len(other) // 2]
            pts.append(((c + 0.5) / w, (r + 0.5) / h))
        texts = [f"<answer>[({x:.4f}, {y:.4f})]</answer>" for x, y in pts]
        out.append((seed, u.task.instruction, [*texts, "[(0.002, 0.002)]", "no point here"]))
    env.close()
    return out


def _call(reward, groups):
    texts = [t for g in groups for t in g[2]]
    return reward(
        completions=texts,
        seed=[g[0] for g in groups for _ in g[2]],
        instruction=[g[1] for g in groups for _ in g[2]],
    )


def test_batched_groups_score_as_the_one_at_a_time_path():
    """On fixed seeds, a group executed together (one reset, one pick, places from the pick's end
    state) scores every point as resetting and executing it alone does, with the same reasons
    (a point on another object is refused unexecuted: its reason says so)."""
    for kind, seeds in (("location", (3, 4)), ("placement", (6,))):
        groups = _groups(kind, seeds, size=3)
        fast = SimOutcomeReward({"kinds": [kind]})
        ref = SimOutcomeReward({"kinds": [kind]}, batched=False)
        a, b = _call(fast, groups), _call(ref, groups)
        assert a == b, (kind, fast.last_reasons, ref.last_reasons)
        for p, q in zip(fast.last_reasons, ref.last_reasons, strict=True):
            assert p == q or p.startswith("pointed at another object"), (p, q)
        assert max(a) > 0, fast.last_reasons  # something was really executed and succeeded
        n = len(groups)
        assert fast.last_failures == {"off_table": n, "unparsed": n} == ref.last_failures | {"off_table": n}
        fast.close()
        ref.close()


def test_unstable_execution_scores_zero_with_its_reason():
    """Physics that blows up mid-execution (NaN joint speeds written by a step hook, as a real
    blow-up leaves them) scores 0, reason and category ``unstable``, counted; the next call's
    reset heals the sim."""
    import math

    groups = _groups("location", (4,), size=2)
    reward = SimOutcomeReward({"kinds": ["location"]})
    assert max(_call(reward, groups)) > 0
    sim = reward.pool._worker.env("roboref/Refer-UR5e-v0", reward.env_kwargs_json).unwrapped.sim

    def blow_up(s) -> None:
        if s.data.time > 1.0:  # after the scene settled: during the execution
            s.data.qvel[0] = math.nan

    sim.step_hooks.append(blow_up)
    scores = _call(reward, groups)
    assert scores[:2] == [0.0, 0.0] and reward.last_reasons[0].startswith("unstable physics"), reward.last_reasons
    assert reward.last_failures["unstable"] == 2 and reward.failures["unstable"] == 2
    sim.step_hooks.remove(blow_up)
    assert max(_call(reward, groups)) > 0
    reward.close()


def test_a_killed_or_stalled_worker_scores_zero_and_the_run_goes_on():
    """Two worker processes kept for the reward's life. A worker killed mid-call: its groups score
    0 (``worker_died``), the call returns, the next call gets a fresh pool and real scores. A
    stalled worker (SIGSTOP): the call ends at its deadline (``timeout``), never hangs."""
    import os
    import signal
    import threading
    import time

    groups = _groups("placement", (6, 7), size=4)
    reward = SimOutcomeReward({"kinds": ["placement"]}, workers=2, timeout_s=60)
    first = _call(reward, groups)
    pids = reward.pool.pids()
    assert len(pids) == 2 and max(first) > 0
    assert _call(reward, groups) == first and reward.pool.pids() == pids  # one pool, kept

    threading.Timer(1.0, os.kill, (pids[0], signal.SIGKILL)).start()
    t0 = time.perf_counter()
    scores = _call(reward, groups)
    assert time.perf_counter() - t0 < 60
    assert reward.last_failures["worker_died"] > 0 and reward.failures["worker_died"] > 0
    died = [r for r in reward.last_reasons if r.startswith("worker process died")]
    assert all(s == 0 for s, r in zip(scores, reward.last_reasons, strict=True) if r in died)
    assert _call(reward, groups) == first and set(reward.pool.pids()).isdisjoint(pids)

    stalled = SimOutcomeReward({"kinds": ["placement"]}, workers=2, timeout_s=8)
    _call(stalled, groups[:1])
    for pid in stalled.pool.pids():
        os.kill(pid, signal.SIGSTOP)
    t0 = time.perf_counter()
    assert _call(stalled, groups) == [0.0] * sum(len(g[2]) for g in groups)
    assert time.perf_counter() - t0 < 30 and stalled.last_failures == {"timeout": len(groups[0][2]) * 2}
    assert stalled.pool.pids() == []
    stalled.close()
    reward.close()


def test_place_grid_shares_one_execution_per_cell():
    """With ``place_grid`` the place points of one grid cell share the first one's execution
    (a 1 × 1 grid: one place for the whole group); points outside the region and bad input are
    still judged one by one. A negative grid is refused."""
    import pytest

    groups = _groups("placement", (6,), size=3)
    exact = SimOutcomeReward({"kinds": ["placement"]})
    shared = SimOutcomeReward({"kinds": ["placement"]}, place_grid=1)
    a, b = _call(exact, groups), _call(shared, groups)
    assert b[:3] == [a[0]] * 3 and b[3:] == a[3:] and shared.last_reasons[3:] == exact.last_reasons[3:]
    with pytest.raises(ValueError, match="place_grid"):
        SimOutcomeReward(place_grid=-1)
    exact.close()
    shared.close()


def test_the_worker_pool_shuts_down_without_an_egl_error(tmp_path):
    """Pool processes close their renderer before EGL's own exit handler terminates the display
    (it printed an EGL_BAD_DISPLAY traceback from every worker at the end of an RFT run)."""
    import subprocess
    import sys

    script = tmp_path / "pool.py"
    script.write_text(
        "from roboref.sim_reward import SimOutcomeReward\n"
        "if __name__ == '__main__':\n"
        "    r = SimOutcomeReward({'kinds': ['location'], 'num_steps': [1, 1]}, workers=2)\n"
        "    s = r(prompts=['', ''], completions=['[(0.5, 0.5)]'] * 2, seed=[11, 12],"
        " instruction=['a', 'b'], robot=['ur5e'] * 2)\n"
        "    assert r.last_failures.get('worker_died', 0) == 0, r.last_reasons\n"
        "    r.close()\n"
    )
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "EGL" not in run.stderr and "Traceback" not in run.stderr, run.stderr[-2000:]

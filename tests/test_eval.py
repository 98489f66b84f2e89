import json
import os
import signal
import subprocess
import sys
import time

import pytest

from roboref.cli import main
from roboref.results import read_results
from roboref.stats import paired_difference, wilson


def _records(d):
    return sorted(read_results(d / "results.jsonl"), key=lambda r: r["key"])


def _strip(records):
    return [{k: v for k, v in r.items() if k != "wall_time"} for r in records]


def test_wilson_interval_known_values():
    lo, hi = wilson(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-3) and hi == pytest.approx(0.7634, abs=1e-3)
    assert wilson(0, 10)[0] == 0.0 and wilson(0, 10)[1] == pytest.approx(0.2775, abs=1e-3)
    assert wilson(0, 0) == (0.0, 1.0)


def test_default_eval_agent_is_the_shipped_refpoint(tmp_path):
    """``roboref eval`` without ``agent=`` scores the shipped RefPoint; its points differ from
    the oracle's, so the records really come from the model."""
    out = tmp_path / "default"
    assert main(["eval", "suite=smoke", "episodes=2", "plots=false", "failure_videos=0", f"out={out}"]) == 0
    recs = _records(out)
    assert len(recs) == 4 and {r["agent"] for r in recs} == {"refpoint"}
    assert all(r["parsed"] and r["text"].startswith("<think>\n[Position]") for r in recs)
    oracle = tmp_path / "oracle"
    assert main(["eval", "agent=oracle", "suite=smoke", "episodes=2", "plots=false", f"out={oracle}"]) == 0
    assert [r["point"] for r in recs] != [r["point"] for r in _records(oracle)]


def test_oracle_eval_writes_results_and_summary(tmp_path, capsys):
    out = tmp_path / "oracle"
    assert main(["eval", "agent=oracle", "suite=smoke", f"out={out}"]) == 0
    recs = _records(out)
    assert len(recs) == 8 and len({r["key"] for r in recs}) == 8
    assert all(r["success"] and r["parsed"] for r in recs)
    # the answer text reaches the reward: the oracle's own trace scores the process term fully
    assert all(r["reward_terms"]["process"] == pytest.approx(1.0) for r in recs), [r["reward_terms"] for r in recs]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["overall"]["n"] == 8 and summary["overall"]["rate"] == 1.0
    assert summary["unparseable"] == 0
    assert set(summary["segment_robot"]) == {"location/ur5e", "placement/ur5e"}
    assert (out / "summary.md").read_text().startswith("## oracle on smoke")
    # a second run resumes: nothing left to do, nothing duplicated
    assert main(["eval", "agent=oracle", "suite=smoke", f"out={out}"]) == 0
    assert len(_records(out)) == 8
    assert "0 to run" in capsys.readouterr().out


def test_one_worker_and_two_workers_give_the_same_records(tmp_path):
    a, b = tmp_path / "one", tmp_path / "two"
    assert main(["eval", "agent=random", "suite=smoke", f"out={a}", "chunk=2"]) == 0
    assert main(["eval", "agent=random", "suite=smoke", f"out={b}", "chunk=2", "workers=2"]) == 0
    ra, rb = _records(a), _records(b)
    assert _strip(ra) == _strip(rb)
    assert sum(r["success"] for r in ra) <= 4  # random points mostly miss


def test_killed_eval_resumes_to_exactly_the_requested_episodes(tmp_path):
    out = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "roboref.cli",
        "eval",
        "agent=random",
        "suite=smoke",
        "episodes=15",
        "chunk=1",
        f"out={out}",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    path = out / "results.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and (not path.exists() or len(path.read_text().splitlines()) < 3):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = len(read_results(path))
    assert 3 <= partial < 30
    with open(path, "a") as fh:
        fh.write('{"key": "half-writ')  # as if killed mid-line
    assert main(["eval", "agent=random", "suite=smoke", "episodes=15", "chunk=1", f"out={out}"]) == 0
    recs = _records(out)
    assert len(recs) == 30 and len({r["key"] for r in recs}) == 30


def test_report_compares_runs(tmp_path, capsys):
    a, b = tmp_path / "oracle", tmp_path / "random"
    main(["eval", "agent=oracle", "suite=smoke", "episodes=2", f"out={a}"])
    main(["eval", "agent=random", "suite=smoke", "episodes=2", f"out={b}"])
    capsys.readouterr()
    assert main(["report", f"dirs=[{a},{b}]", f"out={tmp_path / 'rep'}"]) == 0
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "oracle (oracle)" in text and "random (random)" in text and "location/ur5e" in text
    # the paired row: random minus oracle on the same episodes (oracle solves all of them)
    row = next(line for line in text.splitlines() if line.startswith("| overall | -") and "(n=" in line)
    diff = float(row.split("|")[2].split("[")[0])
    assert diff <= -50.0


def test_paired_difference_interval():
    same = [True, False] * 50
    d, lo, hi = paired_difference(same, same)
    assert d == 0.0 and lo < 0.0 < hi and abs(lo + hi) < 1e-9
    better = [x or i % 10 == 1 for i, x in enumerate(same)]  # b also solves 10 of a's 50 failures
    d, lo, hi = paired_difference(same, better)
    assert d == pytest.approx(0.1) and 0.0 < lo < 0.1 < hi
    # pairing is what narrows it: the same two rates as independent samples overlap
    assert wilson(60, 100)[0] < wilson(50, 100)[1]
    d, lo, hi = paired_difference(better, same)
    assert d == pytest.approx(-0.1) and lo < -0.1 < hi < 0.0
    with pytest.raises(ValueError, match="equally long"):
        paired_difference([True], [True, False])
    with pytest.raises(ValueError, match="at least one"):
        paired_difference([], [])


def test_eval_bad_inputs(tmp_path, capsys):
    assert main(["eval", "agent=gpt5", f"out={tmp_path}"]) == 2
    assert "oracle" in capsys.readouterr().err
    bad = tmp_path / "suite.yaml"
    bad.write_text("name: x\nrobots: [panda]\nsegments: [{name: a, episodes: 1}]\n")
    assert main(["eval", f"suite_file={bad}", f"out={tmp_path}"]) == 2
    assert "panda" in capsys.readouterr().err
    assert main(["eval", "workers=0", "suite=smoke", f"out={tmp_path}"]) == 2
    assert main(["report", f"dirs=[{tmp_path / 'nothing'}]"]) == 2


def test_eval_writes_plots_and_a_failure_video(tmp_path):
    import imageio.v2 as imageio

    out = tmp_path / "random"
    assert main(["eval", "agent=random", "suite=smoke", "episodes=3", "failure_videos=2", f"out={out}"]) == 0
    for name in ("success_by_relation.png", "success_by_steps.png"):
        img = imageio.imread(out / name)
        assert img.shape[0] > 100 and img.std() > 5
    reader = imageio.get_reader(out / "failures.mp4")
    assert reader.get_meta_data()["duration"] == 4.0  # 2 failures x 2 frames at 1 fps
    assert reader.get_data(0).std() > 10


@pytest.mark.parametrize(
    "agent, reason",
    [
        ("py:eval_agents_for_tests:RaisingAgent", "agent error: RuntimeError: model crashed"),
        ("py:eval_agents_for_tests:NaNAgent", "not finite"),
        ("py:eval_agents_for_tests:SlowAgent", "longer than 0.5 s"),
    ],
)
def test_misbehaving_agents_fail_their_episodes_and_the_run_goes_on(tmp_path, agent, reason):
    out = tmp_path / "bad"
    assert main(["eval", f"agent={agent}", "suite=smoke", "episodes=2", "agent_timeout_s=0.5", f"out={out}"]) == 0
    recs = _records(out)
    assert len(recs) == 4 and not any(r["success"] for r in recs)
    assert all(reason in r["parse_reason"] for r in recs)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["unparseable"] == 4


def test_random_agent_scores_near_the_mask_area_fraction(tmp_path):
    """A check on the metric: uniform points hit a mask with probability = its area fraction."""
    out = tmp_path / "rnd"
    assert main(["eval", "agent=random", "suite=smoke", "episodes=40", "chunk=20", "plots=false", f"out={out}"]) == 0
    s = json.loads((out / "summary.json").read_text())
    n, p = s["overall"]["n"], s["mean_mask_fraction"]
    assert n == 80 and 0.0 < p < 0.2
    sigma = (p * (1 - p) / n) ** 0.5
    assert abs(s["overall"]["rate"] - p) < 3 * sigma + 0.02


def test_oracle_is_perfect_on_every_default_split(tmp_path):
    out = tmp_path / "oracle_default"
    assert main(["eval", "agent=oracle", "suite=default", "episodes=2", "plots=false", f"out={out}"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert set(s["segment"]) == {"location", "placement", "unseen", "multistep"}
    assert all(v["rate"] == 1.0 for v in s["segment_robot"].values()) and s["overall"]["n"] == 16


def test_resumed_summary_equals_uninterrupted_summary(tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    args = ["eval", "agent=random", "suite=smoke", "episodes=4", "plots=false"]
    assert main([*args, f"out={full}"]) == 0
    assert main([*args, f"out={part}", "episodes=2"]) == 0  # as if stopped half-way
    lines = (part / "results.jsonl").read_text().splitlines()
    (part / "results.jsonl").write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])  # cut mid-line
    assert main([*args, f"out={part}"]) == 0
    a, b = (json.loads((d / "summary.json").read_text()) for d in (full, part))
    assert a == b


def test_corrupt_results_lines_are_skipped_with_a_warning(tmp_path):
    out = tmp_path / "corrupt"
    assert main(["eval", "agent=random", "suite=smoke", "episodes=2", "plots=false", f"out={out}"]) == 0
    lines = (out / "results.jsonl").read_text().splitlines()
    lines[1] = "{garbage"
    lines.append(lines[0])  # a duplicate must not count twice
    (out / "results.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match="corrupt"):
        assert main(["eval", "agent=random", "suite=smoke", "episodes=2", "plots=false", f"out={out}"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["overall"]["n"] == 4


def test_ray_local_cluster_gives_the_same_records(tmp_path):
    pytest.importorskip("ray")
    a, b = tmp_path / "inline", tmp_path / "ray"
    args = ["eval", "agent=random", "suite=smoke", "episodes=2", "chunk=2", "plots=false"]
    assert main([*args, f"out={a}"]) == 0
    assert main([*args, f"out={b}", "workers=2", "ray.address=local"]) == 0
    assert _strip(_records(a)) == _strip(_records(b))


def _job(agent: str, env_kwargs: dict, seeds=(7,)):
    from roboref.evaluate import EvalJob

    return EvalJob(agent, 0, "ur5e", "location", json.dumps(env_kwargs, sort_keys=True), tuple(enumerate(seeds)))


@pytest.fixture
def closed_envs(monkeypatch):
    """Every ReferEnv closed during the test."""
    from roboref.envs.refer_env import ReferEnv

    closed, close = [], ReferEnv.close

    def recording_close(self):
        closed.append(self)
        close(self)

    monkeypatch.setattr(ReferEnv, "close", recording_close)
    return closed


def test_a_job_run_alone_shares_nothing_and_leaves_nothing_open(closed_envs):
    """Two jobs in one process, each without a worker: each gets its own env and agent, and
    closes its env (a hidden per-process cache once handed the second job the first one's agent
    and never closed an env)."""
    from eval_agents_for_tests import RecordingAgent

    from roboref.evaluate import run_job

    RecordingAgent.instances.clear()
    job = _job("py:eval_agents_for_tests:RecordingAgent", {"kinds": ["location"]})
    first, second = run_job(job), run_job(job)
    assert _strip(first) == _strip(second) and first[0]["success"]
    a, b = RecordingAgent.instances
    assert a is not b and a.env.unwrapped is not b.env.unwrapped
    assert a.env.unwrapped in closed_envs and b.env.unwrapped in closed_envs


def test_a_worker_keeps_an_env_per_id_and_moves_it_between_task_options(closed_envs):
    """The state a worker keeps between jobs is explicit: an env per env id (with the agents and
    controller built on it). Another task configuration reconfigures that env in place; an option
    that needs a new simulator closes it and makes another; another robot gets its own env, kept
    beside the first."""
    from eval_agents_for_tests import RecordingAgent

    from roboref.evaluate import run_job
    from roboref.workers import Worker

    RecordingAgent.instances.clear()
    agent = "py:eval_agents_for_tests:RecordingAgent"
    with Worker() as worker:
        run_job(_job(agent, {"kinds": ["location"]}), worker)
        ctrl = worker.controller()
        run_job(_job(agent, {"kinds": ["location"]}, seeds=(8,)), worker)
        assert len(RecordingAgent.instances) == 1 and not closed_envs  # same configuration: reused
        assert worker.controller() is ctrl
        first = RecordingAgent.instances[0]
        run_job(_job(agent, {"kinds": ["placement"]}), worker)  # task options only: in place
        assert not closed_envs and first.env.unwrapped.config.kinds == ("placement",)
        assert first.env.unwrapped.spec.kwargs["kinds"] == ["placement"]
        assert len(RecordingAgent.instances) == 1 and worker.controller() is ctrl
        g1 = EvalJob_for(agent, {"kinds": ["placement"]}, robot="g1")
        run_job(g1, worker)
        assert not closed_envs and RecordingAgent.instances[1].env.unwrapped.config.robot == "g1"
        run_job(_job(agent, {"kinds": ["location"]}), worker)  # back to the UR5e: its env again
        assert len(RecordingAgent.instances) == 2 and worker.controller() is ctrl
        run_job(_job(agent, {"kinds": ["location"], "image_size": [96, 96]}), worker)  # a new simulator
        assert closed_envs == [first.env.unwrapped] and worker.controller() is not ctrl
        third = RecordingAgent.instances[2]
        assert third.env.unwrapped is not first.env.unwrapped and third.env.unwrapped.config.image_size == (96, 96)
        with pytest.raises(ValueError, match="unknown env option"):  # gym.make's error, the env closed first
            run_job(_job(agent, {"kinds": ["location"], "colour": "red"}), worker)
        assert closed_envs[-1] is third.env.unwrapped
        third_closed = len(closed_envs)
    assert closed_envs[third_closed:] == [RecordingAgent.instances[1].env.unwrapped]  # nothing closed twice


def EvalJob_for(agent: str, env_kwargs: dict, robot: str, seeds=(7,)):
    from roboref.evaluate import EvalJob

    return EvalJob(agent, 0, robot, "location", json.dumps(env_kwargs, sort_keys=True), tuple(enumerate(seeds)))


def test_a_reconfigured_worker_env_gives_a_fresh_envs_records():
    """Moving a worker's env from one segment's task options to the next changes no record: the
    same episodes as jobs run each with their own new env (both robots, every suite segment)."""
    from roboref.evaluate import run_job
    from roboref.workers import Worker

    segments = [
        {"kinds": ["location"], "task_split": "train"},
        {"kinds": ["placement"], "task_split": "train"},
        {"task_split": "unseen"},
        {"num_steps": [2, 5], "task_split": "train"},
    ]
    jobs = [
        EvalJob_for("oracle", seg, robot, seeds=(11 + k, 40 + k))
        for k, seg in enumerate(segments)
        for robot in ("ur5e", "g1")
    ]
    with Worker() as worker:
        kept = [_strip(run_job(job, worker)) for job in jobs]
    fresh = [_strip(run_job(job)) for job in jobs]
    assert kept == fresh
    assert len({r["kind"] for recs in kept for r in recs}) == 2 and any(r["num_steps"] >= 2 for r in kept[-1])

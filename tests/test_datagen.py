"""``roboref datagen``: the data set loads with ``datasets``, matches the env, resumes, parallelizes."""

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import gymnasium as gym
import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

import roboref.envs  # noqa: F401
from roboref.cli import main
from roboref.datarows import depth_from_png, episode_row, mask_from_png
from roboref.envs.tasks.records import NoTaskError
from roboref.seeds import SPLITS, seed_of

N = 12
SHARD = 5  # shards of 5, 5 and 2 samples: a partial last shard on purpose
COLUMNS = {
    "image",
    "depth",
    "mask",
    "instruction",
    "answer",
    "reasoning",
    "steps",
    "kind",
    "num_steps",
    "relations",
    "seed",
    "robot",
    "intrinsics",
    "extrinsics",
    "split",
}


def datagen(out: Path, *args: str) -> int:
    return main(["datagen", f"out={out}", "progress=false", *args])


def rows_by_index(out: Path, split: str = "train") -> dict[int, dict]:
    paths = sorted((out / "data").glob(f"{split}-*.parquet"))
    rows = pq.ParquetDataset(paths).read().to_pylist()
    return {r["index"]: r for r in rows}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("datagen")
    assert datagen(out, f"num_samples={N}", f"shard_size={SHARD}", "workers=1") == 0
    assert datagen(out, "num_samples=4", f"shard_size={SHARD}", "workers=1", "split=val") == 0
    return out


@pytest.fixture(scope="module")
def loaded(data_dir, tmp_path_factory):
    cache = tmp_path_factory.mktemp("hf-cache")  # keep the Arrow cache out of ~/.cache
    return datasets.load_dataset("parquet", data_dir=str(data_dir), cache_dir=str(cache))


def test_loads_with_datasets_with_columns_and_types(loaded):
    assert set(loaded) == {"train", "val"}
    train = loaded["train"]
    assert train.num_rows == N and loaded["val"].num_rows == 4
    assert COLUMNS <= set(train.column_names)
    f = train.features
    for col in ("image", "depth", "mask"):
        assert isinstance(f[col], datasets.Image)
    assert isinstance(f["intrinsics"], datasets.Array2D) and f["intrinsics"].shape == (3, 3)
    assert isinstance(f["extrinsics"], datasets.Array2D) and f["extrinsics"].shape == (4, 4)
    x = train[0]
    assert x["image"].mode == "RGB" and x["image"].size == (224, 224)
    assert np.asarray(x["depth"]).dtype == np.uint16  # 16-bit PNG, millimetres
    assert x["robot"] == "ur5e" and x["split"] == "train" and x["kind"] in ("location", "placement")
    assert isinstance(x["relations"], list) and isinstance(x["num_steps"], int)
    steps = json.loads(x["steps"])
    assert x["reasoning"].splitlines() == [line for line in x["reasoning"].splitlines() if line]
    assert len(x["reasoning"].splitlines()) == len(steps) >= 1
    assert all({"kind", "subject", "value"} <= set(s) for s in steps)
    assert x["reasoning"].splitlines()[0].startswith(f"[{steps[0]['kind']}]")
    assert np.allclose(np.asarray(x["intrinsics"])[2], [0, 0, 1])
    assert sorted(train["index"]) == list(range(N))


def test_rows_match_a_fresh_env_reset_with_the_seed(data_dir):
    """Same seed, same sample: pixels, depth (within 1 mm), mask and answer from a new env."""
    rows = rows_by_index(data_dir)
    config = json.loads((data_dir / "manifest.json").read_text())["splits"]["train"]["config"]
    env = gym.make(config["env_id"], **config["env"])  # the manifest says how to remake a sample
    try:
        for index in (0, 7, N - 1):
            row = rows[index]
            assert row["seed"] == seed_of("train", index)
            obs, _ = env.reset(seed=row["seed"])
            task = env.unwrapped.task
            rgb = np.asarray(Image.open(io.BytesIO(row["image"]["bytes"])))
            assert np.array_equal(rgb, obs["rgb"])
            depth = depth_from_png(row["depth"]["bytes"])
            valid = depth > 0  # 0: no depth, the background at the far plane
            assert np.abs(depth - obs["depth"])[valid].max() <= 0.0005 + 1e-6  # rounded to the mm
            assert (obs["depth"][~valid] > 65.5).all() and valid.mean() > 0.5
            assert np.array_equal(mask_from_png(row["mask"]["bytes"]), task.mask)
            assert row["instruction"] == obs["instruction"] and row["answer"] == task.answer
            assert np.allclose(row["intrinsics"], obs["intrinsics"])
            assert np.allclose(row["extrinsics"], obs["extrinsics"])
    finally:
        env.close()


def test_answer_point_lies_in_the_mask(loaded):
    for x in loaded["train"]:
        mask = mask_from_png(x["mask"])
        px, py = (float(v) for v in x["answer"].strip("[()]").split(","))
        h, w = mask.shape
        assert mask[min(int(py * h), h - 1), min(int(px * w), w - 1)], x["instruction"]


def test_seeds_are_disjoint_across_splits(loaded):
    seeds = {s: {seed_of(s, i, a) for i in range(5000) for a in range(4)} for s in SPLITS}
    for a in SPLITS:
        for b in SPLITS:
            assert a == b or not seeds[a] & seeds[b]
    assert not set(loaded["train"]["seed"]) & set(loaded["val"]["seed"])


def test_manifest_counts(data_dir):
    m = json.loads((data_dir / "manifest.json").read_text())
    assert set(m["splits"]) == {"train", "val"}
    train = m["splits"]["train"]
    assert train["num_samples"] == N and train["num_shards"] == 3
    assert sum(train["counts"]["kind"].values()) == N
    assert sum(train["counts"]["num_steps"].values()) == N
    assert sum(train["counts"]["category"].values()) + train["counts"]["kind"].get("placement", 0) == N
    assert train["seeds"] == {"min": 0, "max": N - 1, "unique": True}
    assert train["skipped_seeds"] == {"count": 0, "by_reason": {}}
    assert train["config"]["first_seed"] == 0 and m["splits"]["val"]["config"]["first_seed"] == seed_of("val", 0)
    assert m["versions"]["mujoco"] and m["versions"]["datasets"]


def test_same_split_and_index_give_the_same_sample_in_any_run(data_dir, tmp_path):
    """Another run (other shard size, so other shard boundaries) reproduces the samples."""
    assert datagen(tmp_path, "num_samples=3", "shard_size=2", "workers=1") == 0
    again, first = rows_by_index(tmp_path), rows_by_index(data_dir)
    assert again.keys() == {0, 1, 2}
    for i, row in again.items():
        assert row == first[i]


def test_two_workers_give_the_same_data_as_one(data_dir, tmp_path):
    assert datagen(tmp_path, "num_samples=8", "shard_size=2", "workers=2") == 0
    two, one = rows_by_index(tmp_path), rows_by_index(data_dir)
    assert sorted(two) == list(range(8))
    for i, row in two.items():
        assert row == one[i]


def test_resume_after_kill_gives_exactly_n_without_duplicates(tmp_path, capsys):
    out, n, shard = tmp_path / "killed", 40, 4
    cmd = [sys.executable, "-m", "roboref.cli", "datagen", f"out={out}", f"num_samples={n}"]
    cmd += [f"shard_size={shard}", "workers=1", "progress=false"]
    log = tmp_path / "run.log"
    with log.open("w") as err:  # the child keeps its own copy of the file descriptor
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 60
    while not list((out / "data").glob("train-*.parquet")) and time.monotonic() < deadline:
        assert proc.poll() is None, f"the run ended before writing a shard: {log.read_text()[-2000:]}"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = {p.name: p.stat().st_mtime_ns for p in (out / "data").glob("train-*.parquet")}
    assert 1 <= len(kept) < n // shard, "the kill came too late to test resuming"
    assert datagen(out, f"num_samples={n}", f"shard_size={shard}", "workers=1") == 0
    assert f"resuming: {len(kept) * shard} of {n}" in capsys.readouterr().out
    for name, mtime in kept.items():  # complete shards are kept, not redone
        assert (out / "data" / name).stat().st_mtime_ns == mtime
    rows = rows_by_index(out)
    table = pq.ParquetDataset(sorted((out / "data").glob("train-*.parquet"))).read(columns=["index", "seed"])
    assert table.num_rows == n and sorted(rows) == list(range(n))
    assert len(set(table.column("seed").to_pylist())) == n
    assert not list((out / ".tmp").iterdir())


def test_rerun_with_more_or_fewer_samples_keeps_what_fits(data_dir, tmp_path, capsys):
    out = tmp_path / "grow"
    assert datagen(out, "num_samples=5", "shard_size=2", "workers=1") == 0  # shards 2+2+1
    capsys.readouterr()
    assert datagen(out, "num_samples=7", "shard_size=2", "workers=1") == 0  # the 1-sample shard is redone
    assert "resuming: 4 of 7" in capsys.readouterr().out
    names = sorted(p.name for p in (out / "data").iterdir())
    assert names == [f"train-0000{i}-of-00004.parquet" for i in range(4)]
    assert datagen(out, "num_samples=3", "shard_size=2", "workers=1") == 0
    rows = rows_by_index(out)
    assert sorted(rows) == [0, 1, 2]
    first = rows_by_index(data_dir)
    assert all(rows[i] == first[i] for i in rows)
    assert json.loads((out / "manifest.json").read_text())["splits"]["train"]["num_samples"] == 3


def test_other_config_in_the_same_folder_is_refused(data_dir, capsys):
    assert datagen(data_dir, f"num_samples={N}", f"shard_size={SHARD}", "image_size=[160,120]") == 2
    assert "another config" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, words",
    [
        (["num_samples=4", "split=holdout"], "unknown split"),
        (["num_samples=0"], "num_samples must be >= 1"),
        (["num_samples=4", "workers=0"], "workers must be >= 1"),
        ([], "num_samples=N is required"),
        (["num_samples=4", "robot=panda"], "unknown robot"),
        (["num_samples=901000001", "shard_size=100000"], "too many for split 'train'"),  # the seed block
        (["num_samples=4", "+env.no_such_option=1"], "no_such_option"),
    ],
)
def test_bad_input_exits_2_with_a_message(tmp_path, capsys, args, words):
    assert datagen(tmp_path / "out", *args) == 2
    assert words in capsys.readouterr().err


def test_unwritable_out_exits_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert datagen(blocker, "num_samples=2") == 2
    assert "not a folder" in capsys.readouterr().err
    assert datagen(blocker / "sub", "num_samples=2") == 2
    assert "not writable" in capsys.readouterr().err
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert datagen(locked / "sub", "num_samples=2") == 2
        assert "not writable" in capsys.readouterr().err


def test_preview_grid(data_dir, capsys):
    assert main(["datagen", f"out={data_dir}", "preview=4"]) == 0
    path = data_dir / "preview-train.png"
    assert str(path) in capsys.readouterr().out
    sheet = np.asarray(Image.open(path))
    assert sheet.shape[0] > 2 * 448 and sheet.shape[1] > 2 * 448  # 2x2 tiles of 224² shown at 2x
    assert sheet.std() > 10
    assert main(["datagen", f"out={data_dir}", "preview=2", "split=test"]) == 2  # no test shards


def test_cli_help_mentions_datagen():
    out = subprocess.run([sys.executable, "-m", "roboref.cli", "--help"], capture_output=True, text=True)
    assert "roboref datagen out=DIR num_samples=N" in out.stdout


@pytest.mark.slow
def test_ray_local_cluster_gives_the_same_data(data_dir, tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "ray"
    assert datagen(out, "num_samples=6", "shard_size=2", "workers=2", "ray.address=local") == 0
    rows, first = rows_by_index(out), rows_by_index(data_dir)
    assert sorted(rows) == list(range(6)) and all(rows[i] == first[i] for i in rows)
    assert json.loads((out / "manifest.json").read_text())["splits"]["train"]["last_run"]["backend"] == ("ray:local")


@pytest.mark.slow
def test_g1_and_640x480(tmp_path):
    args = ["num_samples=3", "robot=g1", "image_size=[640,480]", "env.num_objects=[4,10]", "workers=1"]
    assert datagen(tmp_path, *args) == 0
    ds = datasets.load_dataset("parquet", data_dir=str(tmp_path), cache_dir=str(tmp_path / ".cache"))["train"]
    assert ds[0]["image"].size == (640, 480) and ds[0]["robot"] == "g1"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has exited; only its parent (now init) has to reap it


@pytest.mark.slow
def test_killed_parallel_run_leaves_no_workers_and_resumes(tmp_path):
    out, n, shard = tmp_path / "killed2", 96, 4
    cmd = [sys.executable, "-m", "roboref.cli", "datagen", f"out={out}", f"num_samples={n}"]
    cmd += [f"shard_size={shard}", "workers=2", "progress=false"]
    log = tmp_path / "run.log"
    with log.open("w") as err:  # the child keeps its own copy of the file descriptor
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 60
    while len(list((out / "data").glob("train-*.parquet"))) < 2 and time.monotonic() < deadline:
        assert proc.poll() is None, f"the run ended before writing two shards: {log.read_text()[-2000:]}"
        time.sleep(0.01)
    children = [
        int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    ]
    assert len(children) >= 2  # the spawned workers (and multiprocessing's resource tracker)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(list((out / "data").glob("train-*.parquet"))) < n // shard
    deadline = time.monotonic() + 10
    while any(_alive(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [c for c in children if _alive(c)], "orphaned workers kept running"
    assert datagen(out, f"num_samples={n}", f"shard_size={shard}", "workers=2") == 0
    table = pq.ParquetDataset(sorted((out / "data").glob("train-*.parquet"))).read(columns=["index", "seed"])
    assert sorted(table.column("index").to_pylist()) == list(range(n))
    assert len(set(table.column("seed").to_pylist())) == n


class _Env:
    """An env stand-in whose resets raise the given errors in turn, recording the seeds."""

    def __init__(self, *errors: Exception) -> None:
        self.errors, self.seeds = list(errors), []

    def reset(self, *, seed=None, options=None):
        self.seeds.append(seed)
        raise self.errors.pop(0)


def test_only_no_task_moves_a_sample_to_its_next_seed():
    env = _Env(NoTaskError("no program"), KeyError("stop"))
    with pytest.raises(KeyError, match="stop"):
        episode_row(env, "test", 5, "ur5e")
    assert env.seeds == [seed_of("test", 5, 0), seed_of("test", 5, 1)]
    env = _Env(RuntimeError("a bug"), KeyError("never reached"))
    with pytest.raises(RuntimeError, match="^a bug$"):  # not read as "no task for this seed"
        episode_row(env, "train", 0, "ur5e")
    assert env.seeds == [0]
    env = _Env(*[NoTaskError(f"none {i}") for i in range(4)])
    with pytest.raises(NoTaskError, match=r"train\[3\]: no task after 4 seeds"):
        episode_row(env, "train", 3, "ur5e")


def test_skipped_seeds_are_counted_in_the_manifest_and_printed(tmp_path, monkeypatch, capsys):
    from roboref.envs.refer_env import ReferEnv

    reset, bad = ReferEnv.reset, seed_of("train", 1)

    def no_task_for_bad(self, *, seed=None, options=None):
        if seed == bad:
            raise NoTaskError("test: no program for this seed")
        return reset(self, seed=seed, options=options)

    monkeypatch.setattr(ReferEnv, "reset", no_task_for_bad)
    assert datagen(tmp_path, "num_samples=3", "shard_size=3", "workers=1", "env.num_objects=[4,6]") == 0
    train = json.loads((tmp_path / "manifest.json").read_text())["splits"]["train"]
    assert train["skipped_seeds"] == {"count": 1, "by_reason": {"NoTaskError": 1}}
    assert "skipped 1 seed(s) without a task (NoTaskError: 1)" in capsys.readouterr().out
    assert rows_by_index(tmp_path)[1]["seed"] == seed_of("train", 1, 1)

"""``roboref datagen``: a RefSpatial-style data set from seeded episodes of the pointing env.

Layout, loadable with ``datasets.load_dataset("parquet", data_dir=DIR)`` (its sharded naming
makes the split names, ``unseen`` included)::

    DIR/data/<split>-<shard:05d>-of-<num_shards:05d>.parquet   shard i = samples [i*S, (i+1)*S)
    DIR/manifest.json                                          counts, config, seeds, versions

Columns (``roboref.datarows.features``): ``image`` (RGB PNG), ``depth`` (16-bit PNG, millimetres,
0 = no depth), ``mask`` (target mask PNG, 0/255), ``instruction``, ``answer`` (``[(x, y)]``),
``point``, ``reasoning`` (one step per line), ``steps`` (JSON list of ``{kind, subject, value}``),
``program``, ``kind``, ``num_steps``, ``relations``, ``target_category``, ``target_color``,
``num_objects``, ``split``, ``index``, ``seed``, ``robot``, ``intrinsics`` (3×3), ``extrinsics``
(4×4, T_world_cam), ``task`` (the task record as JSON, without the mask), ``scene`` (JSON).

Sample ``i`` of a split is always the env reset with ``roboref.seeds.seed_of(split, i)`` (a later
attempt's seed where the env found no task; the manifest counts such skipped seeds), so shards are
independent jobs: each is written atomically, a rerun keeps complete shards (renaming them when
``num_samples`` changed the shard count; fewer samples drop the shards beyond) and makes only the
missing ones. A run therefore ends with exactly ``num_samples`` samples, without duplicates or
gaps, however often it was killed. One run at a time may write a split of a folder (a lock file).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import json
import os
import platform
import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from roboref.datarows import features
from roboref.envs.atomic import atomic_path, write_json_atomic
from roboref.seeds import SPLITS, block, locate, seed_of
from roboref.workers import ShardJob, ShardResult, run_shards

FORMAT = "roboref-datagen/1"
MAX_SHARDS = 99_999  # the shard number has 5 digits in the datasets naming scheme
SHARD_RE = re.compile(r"^(?P<split>\w+)-(?P<shard>\d{5})-of-(?P<total>\d{5})\.parquet$")


@dataclasses.dataclass(frozen=True)
class DatagenConfig:
    """The validated command-line config of one generation run."""

    out: Path
    num_samples: int
    split: str
    workers: int
    robot: str
    env_id: str
    env_kwargs: dict[str, Any]
    shard_size: int
    ray_address: str | None
    progress: bool
    overwrite: bool

    @property
    def num_shards(self) -> int:
        return -(-self.num_samples // self.shard_size)

    @property
    def fingerprint(self) -> str:
        """Identifies what a shard contains: shards with another fingerprint are not reusable."""
        key = {
            "format": FORMAT,
            "env_id": self.env_id,
            "env_kwargs": self.env_kwargs,
            "shard_size": self.shard_size,
            "seeds": [[[r.start, r.stop] for r in ranges] for ranges in block(self.split).attempts],
        }
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]

    def shard_range(self, shard: int) -> tuple[int, int]:
        return shard * self.shard_size, min((shard + 1) * self.shard_size, self.num_samples)

    def shard_path(self, shard: int) -> Path:
        return self.out / "data" / f"{self.split}-{shard:05d}-of-{self.num_shards:05d}.parquet"

    def job(self, shard: int) -> ShardJob:
        start, stop = self.shard_range(shard)
        kwargs = json.dumps(self.env_kwargs, sort_keys=True)
        return ShardJob(self.split, shard, start, stop, self.env_id, kwargs, self.robot)


def _int(cfg: DictConfig, key: str) -> int:
    value = cfg.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be an integer, got {value!r}")
    return value


def parse_config(cfg: DictConfig) -> DatagenConfig:
    """Check the hydra config; every problem is a ``ValueError`` naming the allowed values."""
    from roboref.envs import env_id

    if OmegaConf.is_missing(cfg, "num_samples") or cfg.num_samples is None:
        raise ValueError("num_samples=N is required (or preview=N alone to look at existing data)")
    num_samples = _int(cfg, "num_samples")
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    if cfg.split not in SPLITS:
        raise ValueError(f"unknown split {cfg.split!r}; splits: {', '.join(SPLITS)}")
    workers = (os.cpu_count() or 1) if cfg.get("workers") is None else _int(cfg, "workers")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    shard_size = _int(cfg, "shard_size")
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    most = min(block(cfg.split).capacity(), MAX_SHARDS * shard_size)
    if num_samples > most:
        raise ValueError(
            f"num_samples={num_samples} is too many for split {cfg.split!r} and shard_size={shard_size}: "
            f"at most {most} (raise shard_size)"
        )
    refer_id = env_id("refer", str(cfg.robot))  # a ValueError naming the known robots
    env_kwargs = OmegaConf.to_container(cfg.env, resolve=True) if cfg.env else {}
    # held-out tasks for the unseen split, the train tasks for every other split
    split_kwargs = {"task_split": "unseen" if cfg.split == "unseen" else "train"}
    for key in ("robot", "render_mode", *split_kwargs):
        if key in env_kwargs:
            raise ValueError(f"env.{key} is set by datagen (use robot=/split=), remove it from env")
    if cfg.get("image_size") is not None:
        env_kwargs["image_size"] = list(cfg.image_size)
    env_kwargs.update(split_kwargs)
    from roboref.envs.refer_env import ReferEnvConfig

    ReferEnvConfig.from_kwargs(**json.loads(json.dumps(env_kwargs)))  # fail here, not in a worker
    address = cfg.ray.address
    return DatagenConfig(
        out=Path(str(cfg.out)),
        num_samples=num_samples,
        split=str(cfg.split),
        workers=workers,
        robot=str(cfg.robot),
        env_id=refer_id,
        env_kwargs=env_kwargs,
        shard_size=shard_size,
        ray_address=str(address) if address else None,
        progress=bool(cfg.progress),
        overwrite=bool(cfg.overwrite),
    )


# --- the output folder ------------------------------------------------------------------------
def prepare_out(out: Path) -> None:
    """Create ``out`` (and ``out/data``) or explain why it cannot be written."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"out={out} exists and is not a folder")
    try:
        (out / "data").mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ValueError(f"out={out} is not writable: {err.strerror or err}") from None


@contextlib.contextmanager
def split_lock(out: Path, split: str) -> Iterator[None]:
    """One writer per (folder, split): a second run fails fast instead of interleaving shards.
    The OS drops the lock when its process dies, so a killed run never blocks the next one."""
    with open(out / f".lock-{split}", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"another datagen run is writing split {split!r} in {out}") from None
        yield


@functools.cache
def code_hash() -> str:
    """Hash of the code that makes a sample (the env package and the row encoder): recorded per
    shard, so a resume after the env code changed can say that the data set mixes versions."""
    import roboref.datarows
    import roboref.envs

    digest = hashlib.sha256()
    root = Path(roboref.envs.__file__).parent
    for path in [*sorted(root.rglob("*.py")), Path(roboref.datarows.__file__)]:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class ShardFile:
    path: Path
    shard: int
    total: int
    rows: int
    fingerprint: str | None
    code: str | None = None


def shard_files(out: Path, split: str) -> list[ShardFile]:
    """The split's shard files on disk with their row counts and fingerprints (from the footer)."""
    import pyarrow.parquet as pq

    found = []
    for path in sorted((out / "data").glob(f"{split}-*-of-*.parquet")):
        m = SHARD_RE.match(path.name)
        if not m or m["split"] != split:
            continue
        try:
            meta = pq.read_metadata(path)
        except Exception:  # unreadable: treat as missing, it will be regenerated
            found.append(ShardFile(path, int(m["shard"]), int(m["total"]), -1, None))
            continue
        info = json.loads((meta.metadata or {}).get(b"roboref", b"{}"))
        shard, total = int(m["shard"]), int(m["total"])
        found.append(ShardFile(path, shard, total, meta.num_rows, info.get("fingerprint"), info.get("code")))
    return found


def reconcile(cfg: DatagenConfig) -> list[int]:
    """Keep complete shards of this config (renamed to the current shard count), remove the rest;
    return the shard numbers still to make. ``overwrite`` also remakes shards of other env code."""
    files = shard_files(cfg.out, cfg.split)
    foreign = [f for f in files if f.fingerprint not in (None, cfg.fingerprint)]
    if foreign and not cfg.overwrite:
        raise ValueError(
            f"{cfg.out} already holds {cfg.split!r} shards made with another config "
            f"(e.g. {foreign[0].path.name}); use another out=, or overwrite=true to replace them"
        )
    done: set[int] = set()
    placed: set[Path] = set()
    other_code = 0
    for f in files:
        start, stop = cfg.shard_range(f.shard)
        keep = f.fingerprint == cfg.fingerprint and f.shard < cfg.num_shards and f.rows == stop - start
        keep = keep and not (cfg.overwrite and f.code != code_hash())
        if keep and f.shard not in done:
            if f.path != cfg.shard_path(f.shard):
                os.replace(f.path, cfg.shard_path(f.shard))
            done.add(f.shard)
            placed.add(cfg.shard_path(f.shard))
            other_code += f.code != code_hash()
        elif f.path not in placed:  # (a kept twin may have been renamed onto this path)
            f.path.unlink(missing_ok=True)
    if other_code:
        print(
            f"note: keeping {other_code} {cfg.split!r} shards made by other env code than now "
            "(overwrite=true remakes everything with the current code)",
            flush=True,
        )
    return [s for s in range(cfg.num_shards) if s not in done]


def write_shard(cfg: DatagenConfig, result: ShardResult, schema) -> Path:
    """The shard's parquet file, written to a temp name and renamed (atomic)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    job = result.job
    info = {"fingerprint": cfg.fingerprint, "code": code_hash(), "split": job.split, "shard": job.shard}
    info |= {"start": job.start, "stop": job.stop, "worker": result.worker}
    meta = {**(schema.metadata or {}), b"roboref": json.dumps(info).encode()}
    table = pa.Table.from_pylist(result.rows, schema=schema.with_metadata(meta))
    path = cfg.shard_path(job.shard)
    with atomic_path(path, tmp_dir=cfg.out / ".tmp") as tmp:
        pq.write_table(table, tmp)
    return path


# --- the manifest -----------------------------------------------------------------------------
def split_summary(cfg: DatagenConfig) -> dict:
    """Counts over the split's shards, after checking indices are exactly 0..N-1 once each."""
    import pyarrow.parquet as pq

    cols = ["index", "seed", "kind", "num_steps", "relations", "target_category", "target_color"]
    paths = [cfg.shard_path(s) for s in range(cfg.num_shards)]
    data = pq.ParquetDataset(paths).read(columns=cols).to_pydict()
    if sorted(data["index"]) != list(range(cfg.num_samples)) or len(set(data["seed"])) != cfg.num_samples:
        raise RuntimeError(f"{cfg.out}: split {cfg.split!r} does not hold indices 0..{cfg.num_samples - 1}")

    def counts(values) -> dict:
        return dict(sorted(Counter(values).items(), key=lambda kv: (-kv[1], str(kv[0]))))

    relations = [r for rels in data["relations"] for r in rels]
    skipped = sum(locate(seed)[2] for seed in data["seed"])  # each attempt > 0 skipped one seed
    return {
        "num_samples": cfg.num_samples,
        "num_shards": cfg.num_shards,
        "shard_size": cfg.shard_size,
        "files": f"data/{cfg.split}-*-of-{cfg.num_shards:05d}.parquet",
        "seeds": {"min": min(data["seed"]), "max": max(data["seed"]), "unique": True},
        "skipped_seeds": {"count": skipped, "by_reason": {"NoTaskError": skipped} if skipped else {}},
        "counts": {
            "kind": counts(data["kind"]),
            "num_steps": {str(k): v for k, v in counts(data["num_steps"]).items()},
            "relation": counts(relations),
            "no_relation": sum(1 for rels in data["relations"] if not rels),
            "category": counts(c for c in data["target_category"] if c),
            "color": counts(c for c in data["target_color"] if c),
        },
        "config": {
            "robot": cfg.robot,
            "env_id": cfg.env_id,
            "env": cfg.env_kwargs,
            "seed_rule": f"seed = roboref.seeds.seed_of({cfg.split!r}, index, attempt), attempt 0 "
            "unless the env found no task for a seed",
            "first_seed": seed_of(cfg.split, 0),
            "held_out_tasks": cfg.split == "unseen",
            "fingerprint": cfg.fingerprint,
            "code": code_hash(),
        },
        "updated": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("roboref", "mujoco", "gymnasium", "numpy", "datasets", "pyarrow", "pillow"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[pkg] = md.version(pkg)
    return out


def update_manifest(cfg: DatagenConfig, summary: dict) -> Path:
    path = cfg.out / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        manifest = {}
    splits = manifest.get("splits", {})
    splits[cfg.split] = summary
    manifest = {
        "format": FORMAT,
        "load": f'datasets.load_dataset("parquet", data_dir="{cfg.out}")',
        "columns": list(features()),
        "splits": dict(sorted(splits.items(), key=lambda kv: SPLITS.index(kv[0]) if kv[0] in SPLITS else 99)),
        "versions": versions(),
    }
    return write_json_atomic(path, manifest)


# --- the command ------------------------------------------------------------------------------
def results(cfg: DatagenConfig, jobs: list[ShardJob]) -> Iterator[ShardResult]:
    return run_shards(jobs, cfg.workers, cfg.ray_address, cfg.out / ".ray")


def generate(cfg: DatagenConfig) -> dict:
    """Make the missing shards of ``cfg.split`` and update the manifest; returns the split summary."""
    from tqdm import tqdm

    prepare_out(cfg.out)
    with split_lock(cfg.out, cfg.split):
        for stale in (cfg.out / ".tmp").glob(f".{cfg.split}-*"):
            stale.unlink(missing_ok=True)
        todo = reconcile(cfg)
        jobs = [cfg.job(s) for s in todo]
        already = cfg.num_samples - sum(j.stop - j.start for j in jobs)
        if already:
            print(f"resuming: {already} of {cfg.num_samples} samples already in {cfg.out}/data", flush=True)
        schema = features().arrow_schema
        t0 = time.perf_counter()
        made = 0
        with tqdm(
            total=cfg.num_samples, initial=already, unit="sample", desc=cfg.split, disable=not cfg.progress
        ) as bar:
            for result in results(cfg, jobs):
                write_shard(cfg, result, schema)
                made += len(result.rows)
                bar.update(len(result.rows))
        seconds = time.perf_counter() - t0
        summary = split_summary(cfg)
        summary["last_run"] = {
            "made": made,
            "seconds": round(seconds, 2),
            "samples_per_s": round(made / seconds, 2) if made and seconds > 0 else None,
            "workers": cfg.workers,
            "backend": f"ray:{cfg.ray_address}" if cfg.ray_address else "local",
        }
        update_manifest(cfg, summary)
    return summary


def run(cfg: DictConfig) -> int:
    preview_n = _int(cfg, "preview")
    if preview_n < 0:
        raise ValueError(f"preview must be >= 0, got {preview_n}")
    if preview_n and (OmegaConf.is_missing(cfg, "num_samples") or cfg.num_samples is None):
        return show(cfg, preview_n)
    config = parse_config(cfg)
    summary = generate(config)
    rate = summary["last_run"]["samples_per_s"]
    print(
        f"{config.split}: {summary['num_samples']} samples in {summary['num_shards']} shards under "
        f"{config.out / 'data'} (made {summary['last_run']['made']} in {summary['last_run']['seconds']} s"
        + (f", {rate} samples/s" if rate else "")
        + f"); manifest: {config.out / 'manifest.json'}"
    )
    skipped = summary["skipped_seeds"]
    if skipped["count"]:
        reasons = ", ".join(f"{k}: {v}" for k, v in skipped["by_reason"].items())
        print(f"{config.split}: skipped {skipped['count']} seed(s) without a task ({reasons}); samples took the next")
    if preview_n:
        show(cfg, preview_n)
    return 0


def show(cfg: DictConfig, n: int) -> int:
    from roboref.preview import write_preview

    if cfg.split not in SPLITS:
        raise ValueError(f"unknown split {cfg.split!r}; splits: {', '.join(SPLITS)}")
    path = write_preview(Path(str(cfg.out)), str(cfg.split), n)
    print(f"preview of {n} {cfg.split} samples: {path}")
    return 0

"""``roboref.seeds``: every seed block disjoint from every other, training seeds where the shipped
checkpoint found them, the eval suites' episodes unchanged."""

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from roboref import seeds
from roboref.datarows import episode_row
from roboref.seeds import BLOCKS, SEGMENT_STRIDE, SUITE_SLOT, locate, seed_of, suite_seed

CONFIGS = Path(__file__).parents[1] / "configs"
G, M = 10**9, 10**6


class _Stop(Exception):
    """Raised by the probe after recording a seed (not a RuntimeError: nothing swallows it)."""


class SeedProbe:
    """An env stand-in that records the seed of each reset and stops there."""

    def __init__(self) -> None:
        self.seeds: list[int] = []

    def reset(self, *, seed=None, options=None):
        self.seeds.append(seed)
        raise _Stop

    def close(self) -> None:
        pass


def refpoint_seeds(split: str, n: int, monkeypatch, tmp_path) -> list[int]:
    """The env seeds RefPoint's shard generator resets with for samples ``0..n-1`` of ``split``."""
    from roboref.agents.refpoint import data

    probe = SeedProbe()
    monkeypatch.setattr(data, "make_train_env", lambda robot: probe)
    for start in range(n):
        with pytest.raises(_Stop):
            data.generate_shard(data.ShardSpec("ur5e", split, start, 1, 112, 28, 3.0), tmp_path)
    return probe.seeds


def datagen_seeds(split: str, n: int) -> list[int]:
    """The env seeds ``roboref datagen`` resets with for samples ``0..n-1`` of ``split``."""
    probe = SeedProbe()
    for i in range(n):
        with pytest.raises(_Stop):
            episode_row(probe, split, i, "ur5e")
    return probe.seeds


def test_rft_prompts_are_not_test_episodes_and_validation_sets_differ(monkeypatch, tmp_path):
    """The defect: RefPoint's RFT prompts were datagen's test split, and both val blocks were one."""
    n = 50
    assert not set(refpoint_seeds("rft", n, monkeypatch, tmp_path)) & set(datagen_seeds("test", n))
    assert not set(refpoint_seeds("val", n, monkeypatch, tmp_path)) & set(datagen_seeds("val", n))


def test_training_seeds_of_the_shipped_checkpoint_are_unchanged(monkeypatch, tmp_path):
    """SFT on ``train`` (0…), validation on 1e9…, RFT and anchor slots on ``rft`` (2e9…)."""
    assert refpoint_seeds("train", 3, monkeypatch, tmp_path) == [0, 1, 2]
    assert refpoint_seeds("val", 3, monkeypatch, tmp_path) == [G, G + 1, G + 2]
    assert refpoint_seeds("rft", 3, monkeypatch, tmp_path) == [2 * G, 2 * G + 1, 2 * G + 2]
    assert datagen_seeds("train", 3) == [0, 1, 2] and datagen_seeds("unseen", 2) == [3 * G, 3 * G + 1]
    for a in range(seeds.MAX_ATTEMPTS):  # datagen's retry seeds of train and unseen stay too
        assert seed_of("train", 7, a) == 4 * a * G + 7 and seed_of("unseen", 7, a) == (4 * a + 3) * G + 7
    assert seed_of("train", M - 1) == M - 1


def test_all_blocks_are_pairwise_disjoint():
    ranges = sorted(((r, b.name) for b in BLOCKS.values() for r in b.ranges()), key=lambda x: x[0].start)
    assert all(len(r) > 0 for r, _ in ranges)
    for (r1, a), (r2, b) in zip(ranges, ranges[1:], strict=False):
        assert r1.stop <= r2.start, f"{a} {r1} overlaps {b} {r2}"
    assert {b.use for b in BLOCKS.values()} <= set(seeds.USES)
    assert set(seeds.SPLITS) | set(seeds.REFPOINT_BLOCKS.values()) <= set(BLOCKS)


def test_a_seed_belongs_to_its_block_and_indices_stay_inside():
    for name, b in BLOCKS.items():
        for a in range(len(b.attempts)):
            for index in (0, 1, b.capacity() - 1):
                assert locate(b.seed(index, a)) == (name, index, a)
        with pytest.raises(ValueError, match="holds"):
            b.seed(b.capacity())
    assert seed_of("train", M) == 100 * M  # the train block steps over the suites' region
    assert locate(-1) is None and locate(30 * G) is None
    with pytest.raises(ValueError, match="unknown seed block"):
        seed_of("holdout", 0)


def test_suite_slots_hold_their_largest_suites_and_nothing_else():
    for name in ("suite:default", "suite:smoke", "coeval"):
        base = BLOCKS[name].seed(0)
        last = suite_seed(base, SUITE_SLOT // SEGMENT_STRIDE - 1, SEGMENT_STRIDE - 1)
        assert locate(base)[0] == locate(last)[0] == name
    for bad in ((1_000_000, 10, 0), (1_000_000, 0, SEGMENT_STRIDE), (0, 0, 0), (1_500_000, 0, 0), (G, 0, 0)):
        with pytest.raises(ValueError):
            suite_seed(*bad)
    assert locate(suite_seed(99 * M, 9, SEGMENT_STRIDE - 1))[0] == "suite:other"


def test_eval_suite_and_coeval_seeds_are_unchanged():
    """The harness's episodes are compared bit for bit across versions: never move them."""
    for k in range(4):
        for i in (0, 1, 249, 99_999):
            assert suite_seed(1_000_000, k, i) == 1_000_000 + 100_000 * k + i
    assert suite_seed(None, 2, 5) == 1_200_005  # a suite without seed_base: the default's
    for config, block in (("suite/default", "suite:default"), ("suite/smoke", "suite:smoke"), ("coeval", "coeval")):
        assert OmegaConf.load(CONFIGS / f"{config}.yaml").seed_base == BLOCKS[block].seed(0)


def test_eval_jobs_use_the_suite_seeds(monkeypatch, tmp_path):
    """What ``roboref eval`` actually runs: segment k, episode i at ``seed_base + 100000·k + i``."""
    import roboref.evaluate as evaluate
    from roboref.cli import main

    jobs = []

    def capture(job_list, *args, **kwargs):
        jobs.extend(job_list)
        raise _Stop

    monkeypatch.setattr(evaluate, "_progress_run", capture)
    with pytest.raises(_Stop):
        main(["eval", "agent=random", "suite=default", "episodes=3", f"out={tmp_path}", "plots=false"])
    segments = ["location", "placement", "unseen", "multistep"]
    got = {(j.segment, j.robot, i, s) for j in jobs for i, s in j.episodes}
    want = {
        (seg, r, i, 1_000_000 + 100_000 * k + i)
        for k, seg in enumerate(segments)
        for r in ("ur5e", "g1")
        for i in range(3)
    }
    assert got == want

"""Every env seed block of roboref, in one table, so that no two uses ever share an episode.

An env seed fixes a scene and its task (DESIGN.md: the same seed gives the same episode), so a
seed used for training must never be an evaluation episode. Each *block* below is a purpose
(datagen's splits, RefPoint's SFT/RFT/validation samples, the eval suites, coeval) with its own
integer ranges; ``tests/test_seeds.py`` checks that all of them are pairwise disjoint. Other
modules ask this one (``seed_of``, ``suite_seed``, ``locate``) and hold no seed numbers.

Blocks whose seeds trained the shipped RefPoint checkpoint (``train``, ``refpoint-val``, ``rft``)
keep the seeds they had; the evaluation-side blocks that collided with them (datagen's ``val``
and ``test``) moved to fresh ranges. The eval suites' and coeval's seeds are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

G = 10**9
M = 10**6
#: Seeds datagen tries for one sample: attempt 0, then a fresh block when the env finds no task.
MAX_ATTEMPTS = 4
#: Seeds of one segment of an eval suite (``suite_seed``): at most this many episodes per segment.
SEGMENT_STRIDE = 100_000
#: Seeds of one suite: its ``seed_base`` is a multiple of this in ``SUITE_REGION`` (10 segments).
SUITE_SLOT = M
#: Where suite slots may lie (the ``suite:*`` and ``coeval`` blocks tile it).
SUITE_REGION = range(M, 100 * M)
#: datagen's splits (``roboref datagen split=…``), each the block of the same name.
SPLITS = ("train", "val", "test", "unseen")
#: RefPoint's sample splits (``ShardSpec.split``, also in its cache's shard names) → block names.
REFPOINT_BLOCKS = {"train": "train", "val": "refpoint-val", "rft": "rft"}
#: Uses of a block: training data, validation (checkpoint selection), held-out evaluation.
USES = ("train", "select", "eval")


@dataclass(frozen=True)
class Block:
    """Named seed ranges: ``attempts[a]`` are the ranges of attempt ``a``, in index order."""

    name: str
    use: str
    attempts: tuple[tuple[range, ...], ...]
    about: str

    def capacity(self) -> int:
        """How many indices every attempt of the block holds."""
        return min(sum(len(r) for r in ranges) for ranges in self.attempts)

    def seed(self, index: int, attempt: int = 0) -> int:
        """The seed of ``index`` in attempt ``attempt``; out-of-block arguments are errors, so a
        big data set cannot run into the next block."""
        if not 0 <= attempt < len(self.attempts):
            raise ValueError(f"seed block {self.name!r} has attempts 0..{len(self.attempts) - 1}, got {attempt}")
        if index < 0:
            raise ValueError(f"seed index must be >= 0, got {index}")
        offset = index
        for r in self.attempts[attempt]:
            if offset < len(r):
                return r[offset]
            offset -= len(r)
        raise ValueError(f"seed block {self.name!r} holds {self.capacity()} indices, got index {index}")

    def ranges(self) -> tuple[range, ...]:
        """All ranges of all attempts."""
        return tuple(r for ranges in self.attempts for r in ranges)

    def locate(self, seed: int) -> tuple[int, int] | None:
        """``(index, attempt)`` of ``seed`` in this block, or None."""
        for attempt, ranges in enumerate(self.attempts):
            offset = 0
            for r in ranges:
                if seed in r:
                    return offset + seed - r.start, attempt
                offset += len(r)
        return None


def _split(start_g: int, step_g: int) -> tuple[tuple[range, ...], ...]:
    """``MAX_ATTEMPTS`` blocks of ``G`` seeds, attempt ``a`` at ``(start_g + a * step_g) * G``."""
    return tuple((range((start_g + a * step_g) * G, (start_g + a * step_g + 1) * G),) for a in range(MAX_ATTEMPTS))


def _one(start: int, stop: int) -> tuple[tuple[range, ...], ...]:
    return ((range(start, stop),),)


BLOCKS: dict[str, Block] = {
    b.name: b
    for b in (
        Block(
            "train",
            "train",
            ((range(0, M), range(100 * M, G)), *_split(0, 4)[1:]),
            "datagen split=train and RefPoint SFT samples (block=train); skips the suite region",
        ),
        Block("refpoint-val", "select", _one(G, 2 * G), "RefPoint's validation samples (checkpoint selection)"),
        Block("rft", "train", _one(2 * G, 3 * G), "RefPoint RFT prompts and anchor-slot training (block=rft)"),
        Block("unseen", "eval", _split(3, 4), "datagen split=unseen (held-out tasks)"),
        Block("val", "select", _split(16, 1), "datagen split=val (was 1e9.., RefPoint's validation block)"),
        Block("test", "eval", _split(20, 1), "datagen split=test (was 2e9.., RefPoint's RFT block)"),
        Block("suite:default", "eval", _one(M, 2 * M), "configs/suite/default.yaml (the harness)"),
        Block("suite:smoke", "eval", _one(2 * M, 3 * M), "configs/suite/smoke.yaml"),
        Block("coeval", "eval", _one(3 * M, 4 * M), "configs/coeval.yaml"),
        Block("suite:other", "eval", _one(4 * M, SUITE_REGION.stop), "slots for other suite files"),
    )
}


def block(name: str) -> Block:
    """The block called ``name`` (an error lists the names)."""
    try:
        return BLOCKS[name]
    except KeyError:
        raise ValueError(f"unknown seed block {name!r}; blocks: {', '.join(BLOCKS)}") from None


def seed_of(name: str, index: int, attempt: int = 0) -> int:
    """The env seed of sample ``index`` of block ``name`` (attempt > 0: a fresh seed for a sample
    whose earlier seeds gave no task)."""
    return block(name).seed(index, attempt)


def locate(seed: int) -> tuple[str, int, int] | None:
    """``(block, index, attempt)`` of ``seed``, or None if no block holds it."""
    for b in BLOCKS.values():
        where = b.locate(seed)
        if where is not None:
            return b.name, *where
    return None


def suite_seed(seed_base: int | None, segment: int, index: int) -> int:
    """Seed of episode ``index`` of segment ``segment`` of the suite at ``seed_base`` (None: the
    default suite's): ``seed_base + SEGMENT_STRIDE * segment + index``, kept inside the suite's slot."""
    base = BLOCKS["suite:default"].seed(0) if seed_base is None else int(seed_base)
    if base not in SUITE_REGION or (base - SUITE_REGION.start) % SUITE_SLOT:
        raise ValueError(
            f"seed_base must be a multiple of {SUITE_SLOT} in [{SUITE_REGION.start}, {SUITE_REGION.stop}) "
            f"(roboref.seeds), got {base}"
        )
    if not 0 <= segment < SUITE_SLOT // SEGMENT_STRIDE:
        raise ValueError(f"a suite has at most {SUITE_SLOT // SEGMENT_STRIDE} segments, got segment {segment}")
    if not 0 <= index < SEGMENT_STRIDE:
        raise ValueError(f"a segment has at most {SEGMENT_STRIDE} episodes, got episode {index}")
    return base + SEGMENT_STRIDE * segment + index

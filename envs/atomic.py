"""Atomic file writes: a reader (or a resumed run) never sees a half-written file.

The one writer of "temporary file, then rename" for every layer: it lives in ``envs`` (the lowest
layer) so that envs (mesh cache, episode videos), rewards, agents and the glue can all use it.
A temporary file is made beside the destination (same file system, so ``os.replace`` is atomic)
and renamed over it only when complete; on an error it is removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | Path, tmp_dir: str | Path | None = None) -> Iterator[Path]:
    """Yield a fresh temporary path to write; on success it is renamed to ``path``.

    ``tmp_dir`` (default: beside ``path``) must be on the same file system as ``path``. The
    temporary name is ``.<stem>.<random>.tmp<suffix>``: unique per writer (threads and processes
    writing the same file do not collide) and ending with ``path``'s suffix, for writers that pick
    a format by extension (imageio, ``np.savez``).
    """
    path = Path(path)
    folder = Path(tmp_dir) if tmp_dir is not None else path.parent
    folder.mkdir(parents=True, exist_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp makes files private; these are ordinary outputs
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes_atomic(path, text.encode())


def write_json_atomic(path: str | Path, data: Any, default: Any = None) -> Path:
    """JSON with a trailing newline, written atomically; ``default`` as in ``json.dumps``."""
    return write_bytes_atomic(path, (json.dumps(data, indent=2, sort_keys=False, default=default) + "\n").encode())

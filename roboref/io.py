"""Atomic file writes: a reader (or a resumed run) never sees a half-written file.

Each writer fills a temporary file in the same folder (same file system, so the final
``os.replace`` is atomic) and renames it over the destination only when it is complete.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | Path, tmp_dir: str | Path | None = None) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is renamed to ``path``, on error removed.

    ``tmp_dir`` (default: beside ``path``) must be on the same file system as ``path``. The
    temporary name ends with ``path``'s suffix, for writers that pick a format by extension.
    """
    path = Path(path)
    folder = Path(tmp_dir) if tmp_dir is not None else path.parent
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{path.stem}.tmp{os.getpid()}{path.suffix}"
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode())


def write_json_atomic(path: str | Path, data: Any, default: Any = None) -> Path:
    """JSON with a trailing newline, written atomically; ``default`` as in ``json.dumps``."""
    return write_bytes_atomic(path, (json.dumps(data, indent=2, sort_keys=False, default=default) + "\n").encode())

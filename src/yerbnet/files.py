"""Atomic file writes: a crash or Ctrl-C never leaves a half-written artifact behind."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keep the suffix: some writers (Keras, TFRecord readers) look at it.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.tmp.", suffix=path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, data: Any) -> None:
    """Pretty, key-ordered JSON so that identical data gives identical bytes."""
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")

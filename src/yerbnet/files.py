"""Atomic file writes: a crash or Ctrl-C never leaves a half-written artifact behind."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from yerbnet.errors import UserError, full_disk_file


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keep the suffix: some writers (Keras, TFRecord readers) look at it; Keras 3 weights need both parts.
    suffix = ".weights.h5" if path.name.endswith(".weights.h5") else path.suffix
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.tmp.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except Exception as exc:
        if full_disk_file(exc) is not None:  # name the output, not its temporary file (or no file at all)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from exc
        raise
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


def require_free_space(folder: Path, needed: int, what: str) -> None:
    """Stop before a long job whose writes would not fit (a full disk mid-write can crash h5py)."""
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise UserError(
            f"{folder}: {free / 2**20:.0f} MiB free on its device, {what} needs about "
            f"{needed / 2**20:.0f} MiB; free some space (df -h) and rerun"
        )

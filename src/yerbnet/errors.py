"""Errors meant for the person running the pipeline, and how entry points report them."""

from __future__ import annotations

import errno
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager

NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
EXIT_USER_ERROR = 2


class UserError(Exception):
    """Bad input or configuration: reported as one line, no traceback, non-zero exit."""


@contextmanager
def reported_as_exit() -> Iterator[None]:
    """Turn a :class:`UserError` or a full disk into ``error: <message>`` on stderr and exit status 2.

    Under ``dvc repro`` (DVC sets ``DVC_STAGE``), DVC has already removed the stage's previous
    outputs, so the line also says how to get them back.
    """
    try:
        yield
    except UserError as exc:
        _exit(str(exc))
    except Exception as exc:
        refused = full_disk_file(exc)
        if refused is None:
            raise
        where = f" writing {refused}" if refused else ""
        _exit(
            f"no space left on the device{where}; free some space (df -h) and rerun "
            "(outputs are written to a temporary file and renamed, so no half-written file was kept)",
            # h5py objects left open by the failed write crash the interpreter's teardown: skip it.
            hard=True,
        )


def full_disk_file(exc: BaseException) -> str | None:
    """The file a full disk refused ('' when unknown), or None when ``exc`` is not about a full disk.

    Python and h5py raise ``OSError`` with errno ENOSPC; TensorFlow's writers raise their own
    ``ResourceExhaustedError`` whose message is ``<path>; No space left on device``.
    """
    text = str(exc)
    if isinstance(exc, OSError) and exc.errno in NO_SPACE:
        named = re.search(r"filename = '([^']+)'", text)  # h5py puts it in the message
        return exc.filename or (named.group(1) if named else "")
    if "No space left on device" in text:
        return text.split(";", 1)[0].strip() if ";" in text else ""
    return None


def _exit(message: str, hard: bool = False) -> None:
    stage = os.environ.get("DVC_STAGE")
    if stage:
        message += (
            f" (dvc repro removed the stage's previous outputs before running it; `dvc checkout {stage}` restores them)"
        )
    print(f"error: {message}", file=sys.stderr)
    if hard:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_USER_ERROR)
    raise SystemExit(EXIT_USER_ERROR) from None

"""Errors meant for the person running the pipeline, and how entry points report them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


class UserError(Exception):
    """Bad input or configuration: reported as one line, no traceback, non-zero exit."""


@contextmanager
def reported_as_exit() -> Iterator[None]:
    """Turn a :class:`UserError` into ``error: <message>`` on stderr and exit status 2."""
    try:
        yield
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None

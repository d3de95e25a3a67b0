"""A bounded, order-keeping parallel map, shared by the stages that stream images (scrape, augment)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from typing import Any, TypeVar

T = TypeVar("T")


def ordered_map(pool: Executor, fn: Callable[..., T], *items: Iterable[Any], window: int) -> Iterator[T]:
    """``pool.map`` in input order, but with at most ``window`` calls submitted and not yet consumed.

    ``Executor.map`` submits every call up front and keeps every result until it is read,
    so the whole data set could sit in memory while the writer lags.
    """
    pending: deque = deque()
    for args in zip(*items):
        if len(pending) == window:
            yield pending.popleft().result()
        pending.append(pool.submit(fn, *args))
    while pending:
        yield pending.popleft().result()

"""The product hierarchy: slash-joined labels, their ancestors and the exclusive "No Yerb".

A label such as ``Cans/Slim/Cranpom`` also means ``Cans/Slim`` and ``Cans``; every
stage that turns labels into targets goes through :func:`expand` so the rule lives in
one place.
"""

from __future__ import annotations

from collections.abc import Iterable

SEPARATOR = "/"
NO_YERB = "No Yerb"

# The seed study's leaf classes. Inner nodes (Cans, Cans/Slim, Bottles) follow from them.
LEAVES: tuple[str, ...] = (
    "Cans/Enlightenmint",
    "Cans/Revelberry",
    "Cans/Bluephoria",
    "Cans/Lemon",
    "Cans/Other",
    "Cans/Slim/Gold",
    "Cans/Slim/Cranpom",
    "Cans/Slim/Blackberry",
    "Cans/Slim/Grapefruit Ginger",
    "Cans/Slim/Lima Limon",
    "Cans/Slim/Other",
    "Bottles/Mint",
    "Bottles/Raspberry",
    "Bottles/Original(Traditional)",
    "Bottles/Passion",
    "Bottles/Other",
    NO_YERB,
)


def ancestors(label: str) -> list[str]:
    """Proper ancestors of a label, root first: ``Cans/Slim/Gold`` -> ``[Cans, Cans/Slim]``."""
    parts = label.split(SEPARATOR)
    return [SEPARATOR.join(parts[:i]) for i in range(1, len(parts))]


def parent(label: str) -> str | None:
    """The direct parent, or ``None`` for a top-level label."""
    chain = ancestors(label)
    return chain[-1] if chain else None


def expand(labels: Iterable[str]) -> set[str]:
    """The labels plus all their ancestors."""
    expanded: set[str] = set()
    for label in labels:
        expanded.add(label)
        expanded.update(ancestors(label))
    return expanded


def all_classes(leaves: Iterable[str] = LEAVES) -> list[str]:
    """Sorted class list (leaves and inner nodes) that the model predicts."""
    return sorted(expand(leaves))

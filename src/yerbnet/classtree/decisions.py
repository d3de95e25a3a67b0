"""Turn raw sigmoid scores into answers that respect the class tree; evaluate and predict share it.

Rules, applied in this order:

1. Scores: a parent's score is raised to at least its highest child's (``Cans/Slim`` >=
   ``Cans/Slim/Gold``), deepest classes first, so a grandchild lifts the whole chain.
2. Labels: a class is predicted when its (fixed) score reaches its threshold; then every
   predicted class's ancestors are predicted too (thresholds differ per class, so rule 1
   alone does not guarantee it).
3. "No Yerb" is exclusive: when it is predicted together with a product, the higher score
   wins: "No Yerb" if its score is above every product's score, the products otherwise
   (a tie keeps the products).

One implementation for both, so the evaluate stage's metrics describe exactly the answers
``yerbnet predict`` gives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from yerbnet.classtree.taxonomy import NO_YERB, parent


@dataclass(frozen=True)
class Hierarchy:
    """Child -> parent links (by column index) of a class list, deepest child first."""

    size: int
    links: tuple[tuple[int, int], ...]
    no_yerb: int | None

    @classmethod
    def of(cls, classes: list[str]) -> Hierarchy:
        index = {name: i for i, name in enumerate(classes)}
        by_depth = sorted(classes, key=lambda name: -name.count("/"))
        links = tuple((index[c], index[p]) for c in by_depth if (p := parent(c)) in index)
        return cls(len(classes), links, index.get(NO_YERB))

    def parent_columns(self) -> list[int]:
        """Each class's parent column, -1 for a root: what ``heads.ConditionalScores`` multiplies by."""
        parents = [-1] * self.size
        for child, par in self.links:
            parents[child] = par
        return parents

    def scores(self, raw: np.ndarray) -> np.ndarray:
        """Rule 1: a copy of ``raw`` (images x classes) where no parent scores below a child."""
        fixed = np.array(raw, dtype=np.float32, copy=True)
        for child, par in self.links:
            np.maximum(fixed[:, par], fixed[:, child], out=fixed[:, par])
        return fixed

    def decide(self, raw: np.ndarray, thresholds: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Rules 1-3: the fixed scores and the 0/1 predictions (int8) that obey every rule."""
        fixed = self.scores(raw)
        labels = fixed >= thresholds
        for child, par in self.links:
            labels[:, par] |= labels[:, child]
        if self.no_yerb is not None:
            products = self._products()
            both = labels[:, self.no_yerb] & labels[:, products].any(axis=1)
            no_yerb_wins = fixed[:, self.no_yerb] > fixed[:, products].max(axis=1, initial=0.0)
            labels[both & no_yerb_wins] &= self._only_no_yerb()
            labels[both & ~no_yerb_wins, self.no_yerb] = False
        return fixed, labels.astype(np.int8)

    def violations(self, raw: np.ndarray, thresholds: np.ndarray | float) -> dict[str, int]:
        """How many images the raw model's answers broke each rule on (before :meth:`decide`)."""
        labels = raw >= thresholds
        score_order = np.zeros(len(raw), dtype=bool)
        orphan = np.zeros(len(raw), dtype=bool)
        for child, par in self.links:
            score_order |= raw[:, par] < raw[:, child]
            orphan |= labels[:, child] & ~labels[:, par]
        exclusive = np.zeros(len(raw), dtype=bool)
        if self.no_yerb is not None:
            exclusive = labels[:, self.no_yerb] & labels[:, self._products()].any(axis=1)
        return {
            "parent_scored_below_child": int(score_order.sum()),
            "child_without_parent": int(orphan.sum()),
            "no_yerb_with_product": int(exclusive.sum()),
            "any_rule": int((score_order | orphan | exclusive).sum()),
        }

    def _products(self) -> np.ndarray:
        return np.array([i for i in range(self.size) if i != self.no_yerb], dtype=int)

    def _only_no_yerb(self) -> np.ndarray:
        keep = np.zeros(self.size, dtype=bool)
        keep[self.no_yerb] = True
        return keep

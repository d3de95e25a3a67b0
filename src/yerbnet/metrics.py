"""Multi-label metrics per class and overall, under keys that survive slashes in class names.

Key scheme: a class name's ``/`` becomes ``.`` (``Cans/Slim/Gold`` -> ``Cans.Slim.Gold``),
because dvclive and DVC read ``/`` as nesting: ``Cans`` and ``Cans/Slim`` would collide.
With dots each class is one flat key (``per_class`` -> ``Cans.Slim`` -> ``f1``), shown
by ``dvc metrics show`` as ``per_class.Cans.Slim.f1``.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support

THRESHOLD_GRID = np.round(np.arange(0.05, 0.96, 0.01), 2)


def metric_key(class_name: str) -> str:
    return class_name.replace("/", ".")


def per_class(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support for each class (0.0, not NaN, when undefined)."""
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, average=None, labels=range(len(classes)), zero_division=0.0
    )
    return {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(classes, precision, recall, f1, support)
    }


def overall(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Macro F1 over the classes that have positives here (an absent class has no defined F1), and micro F1."""
    present = np.flatnonzero(y_true.sum(axis=0) > 0)
    return {
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", labels=present, zero_division=0.0)),
        "micro_f1": float(f1_score(y_true, y_pred, average="micro", zero_division=0.0)),
        "classes_present": int(len(present)),
    }


def binarize(scores: np.ndarray, thresholds: np.ndarray | float) -> np.ndarray:
    return (scores >= thresholds).astype(np.int8)


def tune_thresholds(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Per class, the grid threshold with the best F1 on these (validation) scores; 0.5 if no positives."""
    thresholds = np.full(y_true.shape[1], 0.5)
    for c in range(y_true.shape[1]):
        if y_true[:, c].sum() == 0:
            continue
        f1s = [f1_score(y_true[:, c], scores[:, c] >= t, zero_division=0.0) for t in THRESHOLD_GRID]
        thresholds[c] = THRESHOLD_GRID[int(np.argmax(f1s))]
    return thresholds

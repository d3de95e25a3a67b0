"""Multi-label metrics per class and overall, under keys that survive slashes in class names.

Key scheme: a class name's ``/`` becomes ``.`` (``Cans/Slim/Gold`` -> ``Cans.Slim.Gold``),
because dvclive and DVC read ``/`` as nesting: ``Cans`` and ``Cans/Slim`` would collide.
With dots each class is one flat key (``per_class`` -> ``Cans.Slim`` -> ``f1``), shown
by ``dvc metrics show`` as ``per_class.Cans.Slim.f1``. Spaces and brackets stay as they are.

A class with no positives in the split has no defined recall, F1 or average precision:
its values are 0.0 (never NaN), ``supported`` is 0, and the macro averages leave it out.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    hamming_loss,
    precision_recall_fscore_support,
)

from yerbnet.errors import UserError

THRESHOLD_GRID = np.round(np.arange(0.05, 0.96, 0.01), 2)
MIN_VAL_SUPPORT = 5  # fewer validation positives than this: the class keeps 0.5
MIN_VAL_F1 = 0.3  # best validation F1 below this: the class keeps 0.5


def metric_key(class_name: str) -> str:
    return class_name.replace("/", ".")


def check_keys(classes: list[str]) -> None:
    """Refuse class lists whose keys would merge (``A/B`` and a class literally named ``A.B``)."""
    seen: dict[str, str] = {}
    for name in classes:
        other = seen.setdefault(metric_key(name), name)
        if other != name:
            raise UserError(
                f"classes '{other}' and '{name}' share the metric key '{metric_key(name)}'; "
                "rename one (merge it with encode.merge)"
            )


def present(y_true: np.ndarray) -> np.ndarray:
    """Column indices of the classes that have at least one positive."""
    return np.flatnonzero(y_true.sum(axis=0) > 0)


def average_precision(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Per-class area under the precision-recall curve; 0.0 for a class with no positives."""
    return np.array(
        [
            float(average_precision_score(y_true[:, c], scores[:, c])) if y_true[:, c].any() else 0.0
            for c in range(y_true.shape[1])
        ]
    )


def per_class(
    y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray, classes: list[str]
) -> dict[str, dict[str, float]]:
    """Precision, recall, F1, support, average precision and ``supported`` (1 or 0) per class."""
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, average=None, labels=range(len(classes)), zero_division=0.0
    )
    ap = average_precision(y_true, scores)
    return {
        name: {
            "precision": float(precision[c]),
            "recall": float(recall[c]),
            "f1": float(f1[c]),
            "support": int(support[c]),
            "average_precision": float(ap[c]),
            "supported": int(support[c] > 0),
        }
        for c, name in enumerate(classes)
    }


def overall(y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Averaged F1s, subset accuracy, Hamming loss and macro PR-AUC; macro means over present classes."""
    labels = present(y_true)
    f1 = {
        avg: float(f1_score(y_true, y_pred, average=avg, labels=labels if avg == "macro" else None, zero_division=0.0))
        for avg in ("macro", "micro", "weighted", "samples")
    }
    ap = average_precision(y_true, scores)
    return {
        "macro_f1": f1["macro"],
        "micro_f1": f1["micro"],
        "weighted_f1": f1["weighted"],
        "samples_f1": f1["samples"],
        "subset_accuracy": float((y_true == y_pred).all(axis=1).mean()),
        "hamming_loss": float(hamming_loss(y_true, y_pred)),
        "macro_pr_auc": float(ap[labels].mean()) if len(labels) else 0.0,
        "classes_present": int(len(labels)),
    }


def bootstrap_macro_f1(
    y_true: np.ndarray, y_pred: np.ndarray, rounds: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of macro F1 (over the classes with test positives) with test images resampled.

    Each round draws how often every image is picked (a multinomial), so all rounds are one
    matrix product instead of a thousand sklearn calls.
    """
    rng = np.random.default_rng(seed)
    picks = rng.multinomial(len(y_true), np.full(len(y_true), 1 / len(y_true)), size=rounds)
    truth, pred = y_true.astype(bool), y_pred.astype(bool)
    tp, fp, fn = picks @ (truth & pred), picks @ (~truth & pred), picks @ (truth & ~pred)
    f1 = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros(tp.shape), where=(2 * tp + fp + fn) > 0)
    macro = f1[:, present(y_true)].mean(axis=1)
    low, high = np.quantile(macro, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def binarize(scores: np.ndarray, thresholds: np.ndarray | float) -> np.ndarray:
    return (scores >= thresholds).astype(np.int8)


def tune_thresholds(
    y_true: np.ndarray, scores: np.ndarray, min_support: int = MIN_VAL_SUPPORT, min_f1: float = MIN_VAL_F1
) -> np.ndarray:
    """Per class, the grid threshold with the best F1 on these (validation) scores, robustly.

    A small validation split makes many thresholds tie: the middle of the widest tied run is
    taken, not its lowest end (which floods test with false alarms). A class with fewer than
    ``min_support`` positives, or whose best F1 is below ``min_f1`` (the model cannot separate
    it yet), keeps 0.5: its tuned threshold would fit noise. Measured in
    ``benchmarks/threshold_tuning.py``.
    """
    thresholds = np.full(y_true.shape[1], 0.5)
    predicted = scores[:, None, :] >= THRESHOLD_GRID[None, :, None]  # images x grid x classes
    truth = y_true.astype(bool)[:, None, :]
    tp = (predicted & truth).sum(axis=0)
    f1 = 2 * tp / np.maximum(2 * tp + (predicted & ~truth).sum(axis=0) + (~predicted & truth).sum(axis=0), 1)
    for c in present(y_true):
        if y_true[:, c].sum() >= min_support and f1[:, c].max() >= min_f1:
            thresholds[c] = THRESHOLD_GRID[middle_of_best_run(f1[:, c])]
    return thresholds


def middle_of_best_run(values: np.ndarray) -> int:
    """Index at the centre of the longest run of consecutive values equal to the maximum."""
    at_best = np.isclose(values, values.max())
    best_start, best_length, start = 0, 0, None
    for i, flag in enumerate([*at_best, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            if i - start > best_length:
                best_start, best_length = start, i - start
            start = None
    return best_start + (best_length - 1) // 2


def confusions(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> Counter[tuple[str, str]]:
    """Per image, every missed class paired with every wrongly predicted one: ``(true, predicted)`` counts.

    Parents that were right on both sides drop out, so a mix-up shows at the level where it
    happened (``Cans/Slim/Gold`` -> ``Cans/Slim/Cranpom``). A miss with nothing in its place
    pairs with ``"(nothing)"``; a false alarm on an image where nothing was missed, with
    ``"(nothing)"`` as the true side.
    """
    counts: Counter[tuple[str, str]] = Counter()
    for truth, pred in zip(y_true.astype(bool), y_pred.astype(bool)):
        missed = [classes[c] for c in np.flatnonzero(truth & ~pred)] or ["(nothing)"]
        extra = [classes[c] for c in np.flatnonzero(pred & ~truth)] or ["(nothing)"]
        counts.update((m, e) for m in missed for e in extra if (m, e) != ("(nothing)", "(nothing)"))
    return counts

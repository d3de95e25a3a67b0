"""PNG figures of an evaluation, for looking at results offline.

``dvc plots show`` writes HTML that loads its charting library from the internet and renders
blank without a network; these PNGs are declared as image plots, so ``dvc plots show`` and
``dvc plots diff`` embed them as they are.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
from sklearn.metrics import precision_recall_curve  # noqa: E402

from yerbnet import files  # noqa: E402

TRAIN_CURVES = ("loss", "macro_f1", "pr_auc")


@dataclass(frozen=True)
class Mistake:
    """One image the model got wrong, with what to write on it."""

    image: np.ndarray   # uint8 H x W x 3
    kind: str           # "false positive" | "false negative"
    cls: str
    score: float
    truth: list[str]
    predicted: list[str]


def _save(fig: plt.Figure, path: Path) -> None:
    with files.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight")
    plt.close(fig)


def per_class_f1(f1: dict[str, float], supported: dict[str, bool], path: Path) -> None:
    """Sorted horizontal bars, best at the top; classes absent from the test split drawn hollow."""
    names = sorted(f1, key=f1.get)
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(names) + 1))
    bars = ax.barh(names, [f1[n] for n in names], color="tab:blue")
    for bar, name in zip(bars, names):
        if not supported[name]:
            bar.set_fill(False)
    ax.set_xlim(0, 1)
    ax.set_xlabel("F1 on the test split (hollow: no test positives)")
    _save(fig, path)


def pr_curves(y_true: np.ndarray, scores: np.ndarray, classes: list[str], path: Path) -> None:
    """One overlay of every supported class's precision-recall curve."""
    fig, ax = plt.subplots(figsize=(8, 6))
    for c, name in enumerate(classes):
        if y_true[:, c].any():
            precision, recall, _ = precision_recall_curve(y_true[:, c], scores[:, c])
            ax.plot(recall, precision, label=name, linewidth=1)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=6, loc="lower left", ncol=2)
    _save(fig, path)


def train_curves(plots_dir: Path, path: Path) -> None:
    """Loss, macro F1 and PR-AUC per epoch, train against validation, from dvclive's TSVs."""
    fig, axes = plt.subplots(1, len(TRAIN_CURVES), figsize=(5 * len(TRAIN_CURVES), 3.5))
    for ax, metric in zip(axes, TRAIN_CURVES):
        for split, label in (("train", "train"), ("eval", "validation")):
            tsv = plots_dir / split / f"{metric}.tsv"
            if tsv.exists():
                with tsv.open(encoding="utf-8") as handle:
                    rows = list(csv.DictReader(handle, delimiter="\t"))
                ax.plot([int(r["step"]) for r in rows], [float(r[metric]) for r in rows], label=label)
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.legend()
    _save(fig, path)


def mistakes(found: list[Mistake], path: Path, columns: int = 4) -> None:
    """A grid of the worst errors, each titled with its kind, class, score, truth and prediction."""
    rows = max(1, -(-len(found) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, m in zip(axes.flat, found):
        ax.imshow(m.image)
        ax.set_title(f"{m.kind}: {m.cls} ({m.score:.2f})\ntrue: {', '.join(m.truth) or '-'}\n"
                     f"predicted: {', '.join(m.predicted) or '-'}", fontsize=7)
    if not found:
        axes.flat[0].text(0.5, 0.5, "no false positives or negatives to show", ha="center")
    _save(fig, path)

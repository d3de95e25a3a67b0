"""PNG figures of an evaluation, to look at without a browser (and embedded by ``dvc plots show``).

Each answers one question: how good is each class, for how many test images (``per_class_f1``);
how separable is each class (``precision_recall``, a panel per class); which class the wrong
predictions came from (``mistakes``); did training converge, and which epoch was kept
(``train_curves``); what did the worst mistakes look like (``worst_errors``).
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import average_precision_score, precision_recall_curve

from yerbnet import files

TRAIN_CURVES = ("loss", "macro_f1", "pr_auc")


@dataclass(frozen=True)
class Mistake:
    """One image the model got wrong, with what to write on it."""

    image: np.ndarray  # uint8 H x W x 3
    file: str  # the photo's name as the user knows it
    kind: str  # "false positive" | "false negative"
    cls: str
    score: float
    truth: list[str]
    predicted: list[str]


def _figure(rows: int = 1, columns: int = 1, **kwargs) -> tuple[Figure, Any]:
    """A figure and its axes, without pyplot: no global state, no GUI backend to choose (Matplotlib's
    "embedding in a web application" pattern)."""
    size = kwargs.pop("figsize")
    fig = Figure(figsize=size)
    return fig, fig.subplots(rows, columns, **kwargs)


def _save(fig: Figure, path: Path) -> None:
    with files.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight")


def per_class_f1(per_class: dict[str, dict], path: Path) -> None:
    """Sorted horizontal bars, best at the top, each labelled with its F1 and test support; classes absent
    from the test split drawn hollow."""
    names = sorted(per_class, key=lambda n: per_class[n]["f1"])
    fig, ax = _figure(figsize=(7, 0.3 * len(names) + 1))
    bars = ax.barh(names, [per_class[n]["f1"] for n in names], color="tab:blue")
    for bar, name in zip(bars, names):
        m = per_class[name]
        bar.set_fill(bool(m["supported"]))
        ax.text(
            min(m["f1"], 0.80) + 0.01,
            bar.get_y() + bar.get_height() / 2,
            f"{m['f1']:.2f}  n={m['support']}",
            va="center",
            fontsize=7,
        )
    ax.set_xlim(0, 1)
    ax.set_xlabel("F1 on the test split; n = test images (hollow: none)")
    _save(fig, path)


def pr_curves(y_true: np.ndarray, scores: np.ndarray, classes: list[str], path: Path, columns: int = 5) -> None:
    """One small precision-recall panel per class with test positives, titled with its AP and support."""
    shown = [c for c in range(len(classes)) if y_true[:, c].any()]
    rows = max(1, math.ceil(len(shown) / columns))
    fig, axes = _figure(rows, columns, figsize=(2.6 * columns, 2.4 * rows), squeeze=False, sharex=True, sharey=True)
    for ax in axes.flat:
        ax.set_visible(False)
    for ax, c in zip(axes.flat, shown):
        precision, recall, _ = precision_recall_curve(y_true[:, c], scores[:, c])
        ap = average_precision_score(y_true[:, c], scores[:, c])
        ax.set_visible(True)
        ax.plot(recall, precision, linewidth=1.2)
        ax.set_title(f"{classes[c]}\nAP {ap:.2f}, n={int(y_true[:, c].sum())}", fontsize=7)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.tick_params(labelsize=6)
    fig.supxlabel("recall")
    fig.supylabel("precision")
    fig.tight_layout()
    _save(fig, path)


def mistake_matrix(confusions: Counter[tuple[str, str]], path: Path) -> None:
    """Rows: the true class a wrong prediction missed; columns: what was predicted in its place
    (``(nothing)`` either side for a plain miss or false alarm); cells count images."""
    truths = sorted({t for t, _ in confusions})
    predicted = sorted({p for _, p in confusions})
    matrix = np.array([[confusions[(t, p)] for p in predicted] for t in truths]).reshape(len(truths), len(predicted))
    fig, ax = _figure(figsize=(0.45 * len(predicted) + 3, 0.35 * len(truths) + 2))
    ax.imshow(matrix if matrix.size else np.zeros((1, 1)), cmap="Reds")
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(predicted)), predicted, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(truths)), truths, fontsize=7)
    ax.set_xlabel("predicted in its place")
    ax.set_ylabel("true class missed")
    ax.set_title("Mistakes on the test split (images)" if matrix.size else "No mistakes on the test split")
    _save(fig, path)


def train_curves(plots_dir: Path, path: Path, restored_epoch: int | None) -> None:
    """Loss, macro F1 and PR-AUC per epoch, train against validation, from dvclive's TSVs; a dashed line
    marks the epoch whose weights were kept."""
    fig, axes = _figure(1, len(TRAIN_CURVES), figsize=(5 * len(TRAIN_CURVES), 3.5))
    for ax, metric in zip(axes, TRAIN_CURVES):
        for split, label in (("train", "train"), ("eval", "validation")):
            tsv = plots_dir / split / f"{metric}.tsv"
            if tsv.exists():
                with tsv.open(encoding="utf-8") as handle:
                    rows = list(csv.DictReader(handle, delimiter="\t"))
                ax.plot([int(r["step"]) + 1 for r in rows], [float(r[metric]) for r in rows], label=label)
        if restored_epoch is not None:
            ax.axvline(restored_epoch, color="grey", linestyle="--", linewidth=1, label=f"kept: epoch {restored_epoch}")
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    _save(fig, path)


def mistakes(found: list[Mistake], path: Path, columns: int = 4) -> None:
    """A grid of the worst errors, each titled with its file, kind, class, score, truth and prediction."""
    rows = max(1, -(-len(found) // columns))
    fig, axes = _figure(rows, columns, figsize=(3.2 * columns, 3.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, m in zip(axes.flat, found):
        ax.imshow(m.image)
        name = m.file if len(m.file) <= 40 else "..." + m.file[-37:]
        ax.set_title(
            f"{name}\n{m.kind}: {m.cls} ({m.score:.2f})\ntrue: {', '.join(m.truth) or '-'}\n"
            f"predicted: {', '.join(m.predicted) or '-'}",
            fontsize=7,
        )
    if not found:
        axes.flat[0].text(0.5, 0.5, "no false positives or negatives to show", ha="center")
    _save(fig, path)

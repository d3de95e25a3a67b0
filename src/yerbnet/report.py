"""Markdown tables of an evaluation, read from the metrics dict the evaluate stage logs.

The same functions write ``reports/evaluation.md`` and print ``yerbnet report``, so the
file and the command never disagree. No TensorFlow here: ``yerbnet report`` starts fast.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from yerbnet.metrics import MIN_VAL_SUPPORT, metric_key

OVERALL = (
    "macro_f1",
    "micro_f1",
    "weighted_f1",
    "samples_f1",
    "subset_accuracy",
    "hamming_loss",
    "macro_pr_auc",
    "classes_present",
)
RULES = {
    "parent_scored_below_child": "a parent scored below one of its children",
    "child_without_parent": "a class predicted without its parent",
    "no_yerb_with_product": '"No Yerb" predicted together with a product',
    "any_rule": "any of these",
}


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.3f}"


def overall_table(results: dict) -> str:
    """Overall metrics at the selected thresholds, at 0.5 and at the thresholds tuned on val."""
    rows = [
        [name, _number(results[name]), _number(results["at_half"][name]), _number(results["at_tuned"][name])]
        for name in OVERALL
    ]
    return _table(["metric", "selected", "at 0.5", "tuned on val"], rows)


def per_class_table(results: dict, classes: list[str]) -> str:
    """One row per class at the selected thresholds; a class with no test positives says so, and a threshold
    that could not be tuned (fewer than ``MIN_VAL_SUPPORT`` validation positives: it stays 0.5) is starred."""
    rows = []
    for name in classes:
        m = results["per_class"][metric_key(name)]
        scores = (
            [_number(m[k]) for k in ("precision", "recall", "f1", "average_precision")]
            if m["supported"]
            else ["n/a (no test positives)", "", "", ""]
        )
        few = m["val_support"] < MIN_VAL_SUPPORT
        rows.append(
            [
                name,
                str(m["support"]),
                str(m["val_support"]),
                f"{m['threshold']:.2f}{' *' if few else ''}",
                *scores,
                _number(results["at_half"]["per_class"][metric_key(name)]["f1"]) if m["supported"] else "",
            ]
        )
    table = _table(
        ["class", "test images", "val images", "threshold", "precision", "recall", "F1", "AP", "F1 at 0.5"], rows
    )
    return table + (
        f"\n\n\\* fewer than {MIN_VAL_SUPPORT} validation images: the threshold was not tuned (kept 0.5), "
        "and this class's figures rest on very few images."
    )


def rules_table(results: dict) -> str:
    n = results["test_images"]
    rows = [
        [text, str(results["rule_breaks"][key]), f"{100 * results['rule_breaks'][key] / max(n, 1):.1f} %"]
        for key, text in RULES.items()
    ]
    return _table(["rule broken by the raw model", "test images", "share"], rows)


def confusion_table(confusions: Counter[tuple[str, str]], top: int = 10) -> str:
    rows = [[truth, predicted, str(count)] for (truth, predicted), count in confusions.most_common(top)]
    return _table(["true class (missed)", "predicted instead", "images"], rows) if rows else "No errors."


def image_counts(index: dict) -> dict[str, list[int]]:
    """Images per class in each split (not TFRecord records: train images have augmented copies)."""
    return {split: info["images_per_class"] for split, info in index["splits"].items()}


def counts_table(classes: list[str], counts: dict[str, list[int]]) -> str:
    """Images per class in each split (:func:`image_counts`)."""
    splits = list(counts)
    rows = [[name, *(str(counts[s][c]) for s in splits)] for c, name in enumerate(classes)]
    return _table(["class", *splits], rows)


def header(results: dict) -> str:
    """Which run this is: experiment, changed params, data, date, kept epoch."""
    run = results["run"]
    changed = ", ".join(f"`{k}={v}`" for k, v in run.get("changed_params", {}).items()) or "none (the defaults)"
    lines = [
        f"- experiment: {run.get('experiment', 'unknown')}",
        f"- params changed from the defaults: {changed}",
        f"- data: {run.get('data', 'unknown')}",
        f"- date: {run.get('date', 'unknown')}",
    ]
    if results.get("restored_epoch") is not None:
        lines.append(f"- model: the weights of epoch {results['restored_epoch']} (the best `train.monitor`)")
    return "\n".join(lines)


def figure_links(figures_dir: Path, report_dir: Path) -> str:
    names = {
        "per_class_f1.png": "F1 per class",
        "precision_recall.png": "precision-recall per class",
        "mistakes.png": "mistakes by true and predicted class",
        "train_curves.png": "training curves",
        "worst_errors.png": "worst errors",
    }
    return " · ".join(
        f"[{text}]({Path(os.path.relpath(figures_dir / name, report_dir)).as_posix()})"
        for name, text in names.items()
        if (figures_dir / name).exists()
    )


def markdown(
    results: dict,
    classes: list[str],
    mode: str,
    confusions: Counter[tuple[str, str]],
    counts: dict[str, list[int]],
    figures_dir: Path,
    report_dir: Path,
) -> str:
    """The whole ``reports/evaluation.md``."""
    low, high = results["macro_f1_interval"]
    return (
        "\n\n".join(
            [
                "# Evaluation on the test split",
                header(results),
                f"{results['test_images']} test images: macro F1 **{results['macro_f1']:.3f}** "
                f"(95 % bootstrap interval over test images {low:.3f} to {high:.3f}). "
                f"Selected thresholds: **{mode}** (`evaluate.threshold`); tuned thresholds maximise each class's F1 "
                "on the validation split. Predictions are made hierarchy-consistent before scoring "
                "(docs/experiments.md, Thresholds and the class tree).",
                "Figures: " + figure_links(figures_dir, report_dir),
                "## Overall",
                overall_table(results),
                "## Per class (selected thresholds)",
                per_class_table(results, classes),
                "## Largest confusions",
                "Per image, each missed class paired with each class predicted in its place; "
                "`(nothing)` on the left is a false alarm where nothing was missed, on the right a miss "
                "with nothing predicted instead.",
                confusion_table(confusions),
                "## How often the raw model broke the hierarchy rules (selected thresholds)",
                rules_table(results),
                "## Images per class and split",
                counts_table(classes, counts),
            ]
        )
        + "\n"
    )

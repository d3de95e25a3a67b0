"""The evaluate stage: tune thresholds on val, score the test split, write metrics, plots and a report.

Two files, so that the experiment table stays narrow (README "Metric keys"):
``dvclive/evaluate/metrics.json``, the DVC metric, holds the summary runs are compared by
(:func:`summary`: macro F1 first, then per-class F1); ``reports/evaluation.json`` holds
everything: overall metrics and ``per_class`` at the thresholds ``evaluate.threshold``
selects, ``at_half`` and ``at_tuned`` the same at 0.5 and at the val-tuned thresholds,
``rule_breaks`` (how often the raw model broke the hierarchy rules) and ``run``.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from dvclive import Live
from yerbnet import figures, files, metrics, model_card, report
from yerbnet.classtree.decisions import Hierarchy
from yerbnet.classtree.taxonomy import NO_YERB
from yerbnet.input_pipeline import read_index, split_dataset
from yerbnet.params import EvaluateParams, Params, changed_from_defaults
from yerbnet.saved_model import load_model, read_info

BATCH_SIZE = 64


@dataclass(frozen=True)
class Outputs:
    """Where the stage writes; one place so the stage script and the tests agree."""

    thresholds: Path
    live: Path
    details: Path  # reports/evaluation.json, read by `yerbnet report`
    report: Path
    figures: Path
    model_card: Path


@dataclass(frozen=True)
class Split:
    targets: np.ndarray  # int8, images x classes
    raw: np.ndarray  # sigmoid scores straight from the model
    ids: list[str]


def predict_split(model: keras.Model, shards_dir: Path, split: str) -> Split:
    """Targets, raw scores and record ids of a split, in shard order; images are not kept."""
    targets, scores, ids = [], [], []
    for images, labels, batch_ids in split_dataset(shards_dir, split, BATCH_SIZE, with_ids=True):
        scores.append(np.asarray(model.predict_on_batch(images)))
        targets.append(labels.numpy())
        ids += [i.decode() for i in batch_ids.numpy()]
    return Split(np.concatenate(targets).astype(np.int8), np.concatenate(scores), ids)


def score(
    split: Split, thresholds: np.ndarray, hierarchy: Hierarchy, classes: list[str]
) -> tuple[dict, np.ndarray, np.ndarray]:
    """Overall and per-class metrics of the consistent predictions; also the fixed scores and labels."""
    fixed, y_pred = hierarchy.decide(split.raw, thresholds)
    per_class = metrics.per_class(split.targets, y_pred, fixed, classes)
    for name, t in zip(classes, thresholds):
        per_class[name]["threshold"] = float(t)
    results = {
        **metrics.overall(split.targets, y_pred, fixed),
        "per_class": {metrics.metric_key(n): m for n, m in per_class.items()},
    }
    return results, fixed, y_pred


def _threshold_view(results: dict) -> dict:
    """Overall metrics plus the threshold-dependent per-class ones (support and AP do not change)."""
    keep = ("precision", "recall", "f1", "threshold")
    return {
        **{k: v for k, v in results.items() if k != "per_class"},
        "per_class": {key: {k: m[k] for k in keep} for key, m in results["per_class"].items()},
    }


def summary(results: dict, classes: list[str]) -> dict[str, Any]:
    """What runs are compared by in ``dvc exp show`` and ``dvc metrics diff``, in that order: macro F1 at
    the selected thresholds first, then per-class F1 (``per_class_f1.<class key>``: `dvc metrics diff` sorts by
    name, and ``macro_f1`` sorts first)."""
    per_class = results["per_class"]
    head = {
        "macro_f1": results["macro_f1"],
        "macro_f1_at_half": results["at_half"]["macro_f1"],
        "micro_f1": results["micro_f1"],
    }
    if NO_YERB in classes:
        head["no_yerb_f1"] = per_class[metrics.metric_key(NO_YERB)]["f1"]
    return {
        **head,
        "macro_pr_auc": results["macro_pr_auc"],
        "subset_accuracy": results["subset_accuracy"],
        "test_images": results["test_images"],
        "per_class_f1": {metrics.metric_key(n): per_class[metrics.metric_key(n)]["f1"] for n in classes},
    }


def run_info(params: Params, shards_dir: Path) -> dict[str, Any]:
    """What names this run in the report: the experiment (DVC sets ``DVC_EXP_NAME`` in `dvc exp run`), the
    params it changed from the defaults, a digest of the shards it was scored on, and the date."""
    digest = hashlib.sha256()
    for path in sorted(p for p in shards_dir.rglob("*") if p.is_file()):
        digest.update(path.relative_to(shards_dir).as_posix().encode() + b"\0" + path.read_bytes())
    return {
        "experiment": os.environ.get("DVC_EXP_NAME", "workspace"),
        "changed_params": changed_from_defaults(params),
        "data": f"{shards_dir.as_posix()} sha256 {digest.hexdigest()[:12]}",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def evaluate(
    cfg: EvaluateParams,
    model_path: Path,
    shards_dir: Path,
    out: Outputs,
    train_plots: Path | None = None,
    posts: pd.DataFrame | None = None,
    run: dict[str, Any] | None = None,
) -> dict:
    """Write thresholds, metrics, plots, the report and (given the scraped ``posts``) the model card;
    return the whole results tree (what ``reports/evaluation.json`` holds)."""
    index = read_index(shards_dir)
    classes = index["classes"]
    metrics.check_keys(classes)
    hierarchy = Hierarchy.of(classes)
    model = load_model(model_path)

    val = predict_split(model, shards_dir, "val")
    tuned = metrics.tune_thresholds(val.targets, hierarchy.scores(val.raw))
    selected = tuned if cfg.threshold == "tuned" else np.full(len(classes), float(cfg.threshold))
    files.write_json(
        out.thresholds, {"mode": str(cfg.threshold), "thresholds": {c: float(t) for c, t in zip(classes, selected)}}
    )

    test = predict_split(model, shards_dir, "test")
    results, fixed, y_pred = score(test, selected, hierarchy, classes)
    for name, positives in zip(classes, val.targets.sum(axis=0)):
        results["per_class"][metrics.metric_key(name)]["val_support"] = int(positives)
    results["test_images"] = len(test.ids)
    results["macro_f1_interval"] = list(metrics.bootstrap_macro_f1(test.targets, y_pred))
    results["rule_breaks"] = hierarchy.violations(test.raw, selected)
    results["at_half"] = _threshold_view(score(test, np.full(len(classes), 0.5), hierarchy, classes)[0])
    results["at_tuned"] = _threshold_view(score(test, tuned, hierarchy, classes)[0])
    results["restored_epoch"] = read_info(model_path.parent).epoch
    results["run"] = run or {}
    results["classes"] = classes
    confusions = metrics.confusions(test.targets, y_pred, classes)

    files.write_json(out.details, results)
    _log(results, test.targets, fixed, classes, confusions, out.live)
    names = dict(zip(posts["file"], posts["original"])) if posts is not None else {}
    _draw(results, test, fixed, y_pred, classes, shards_dir, cfg, out.figures, train_plots, confusions, names)
    files.write_text(
        out.report,
        report.markdown(
            results, classes, str(cfg.threshold), confusions, report.image_counts(index), out.figures, out.report.parent
        ),
    )
    if posts is not None:
        files.write_text(out.model_card, model_card.markdown(results, classes, index, posts, model.name))
    return results


def _log(
    results: dict,
    y_true: np.ndarray,
    scores: np.ndarray,
    classes: list[str],
    confusions: Counter[tuple[str, str]],
    live_dir: Path,
) -> None:
    """The summary metrics, one PR curve per class, the F1 bars and the class-by-class mistakes, for
    ``dvc metrics`` and ``dvc plots``."""
    per_class = {n: results["per_class"][metrics.metric_key(n)] for n in classes}
    with Live(str(live_dir), dvcyaml=False, save_dvc_exp=False) as live:
        live.summary = summary(results, classes)
        for c, (name, m) in enumerate(per_class.items()):
            if m["supported"]:
                live.log_sklearn_plot(
                    "precision_recall",
                    y_true[:, c].tolist(),
                    scores[:, c].tolist(),
                    name=f"precision_recall/{metrics.metric_key(name)}.json",
                    title=f"{name}: AP {m['average_precision']:.2f}, {m['support']} test images",
                    drop_intermediate=True,
                )
        live.log_plot(
            "per_class_f1",
            [{"class": f"{n} ({m['support']})", "f1": m["f1"]} for n, m in per_class.items()],
            x="f1",
            y="class",
            template="bar_horizontal_sorted",
            title="Test F1 per class (test images)",
        )
        live.log_plot(
            "mistakes",
            [
                {"actual": truth, "predicted": predicted}
                for (truth, predicted), count in sorted(confusions.items())
                for _ in range(count)
            ],
            x="predicted",
            y="actual",
            template="confusion",
            title="Mistakes: the true class missed (actual) and what was predicted in its place",
        )


def _draw(
    results: dict,
    test: Split,
    fixed: np.ndarray,
    y_pred: np.ndarray,
    classes: list[str],
    shards_dir: Path,
    cfg: EvaluateParams,
    out_dir: Path,
    train_plots: Path | None,
    confusions: Counter[tuple[str, str]],
    names: dict[str, str],
) -> None:
    figures.per_class_f1(
        {n: results["per_class"][metrics.metric_key(n)] for n in classes}, out_dir / "per_class_f1.png"
    )
    figures.pr_curves(test.targets, fixed, classes, out_dir / "precision_recall.png")
    figures.mistake_matrix(confusions, out_dir / "mistakes.png")
    if train_plots is not None and train_plots.exists():
        figures.train_curves(train_plots, out_dir / "train_curves.png", results["restored_epoch"])
    picks = worst(test.targets, fixed, y_pred, cfg.worst_errors)
    figures.mistakes(_mistakes(picks, test, fixed, y_pred, classes, shards_dir, names), out_dir / "worst_errors.png")


def worst(y_true: np.ndarray, scores: np.ndarray, y_pred: np.ndarray, n: int) -> list[tuple[int, int, str]]:
    """Up to ``n`` false positives with the highest scores and ``n`` false negatives with the lowest,
    each image at most once (as its false positive first): ``(image row, class column, kind)``."""
    picks: list[tuple[int, int, str]] = []
    seen: set[int] = set()
    for kind, wrong, order in (
        ("false positive", (y_pred == 1) & (y_true == 0), -scores),
        ("false negative", (y_pred == 0) & (y_true == 1), scores),
    ):
        rows, cols = np.nonzero(wrong)
        taken = 0
        for i in np.argsort(order[rows, cols], kind="stable"):
            if rows[i] not in seen and taken < n:
                seen.add(int(rows[i]))
                taken += 1
                picks.append((int(rows[i]), int(cols[i]), kind))
    return picks


def _leaves(row: np.ndarray, classes: list[str]) -> list[str]:
    """The most specific labels of a 0/1 row: a parent is implied by its children."""
    names = [classes[c] for c in np.flatnonzero(row)]
    return [n for n in names if not any(o.startswith(n + "/") for o in names)]


def _mistakes(
    picks: list[tuple[int, int, str]],
    test: Split,
    fixed: np.ndarray,
    y_pred: np.ndarray,
    classes: list[str],
    shards_dir: Path,
    names: dict[str, str],
) -> list[figures.Mistake]:
    """Read back only the picked images: a second pass over the test shards keeps memory flat.
    ``names`` maps a stored image name to the path it was scraped from, which the user knows."""
    wanted = {test.ids[row]: row for row, _, _ in picks}
    images: dict[int, np.ndarray] = {}
    for batch, _, ids in split_dataset(shards_dir, "test", BATCH_SIZE, with_ids=True):
        for image, record_id in zip(batch.numpy(), ids.numpy()):
            if record_id.decode() in wanted:
                images[wanted[record_id.decode()]] = image.astype(np.uint8)
    return [
        figures.Mistake(
            images[row],
            names.get(test.ids[row], test.ids[row]),
            kind,
            classes[col],
            float(fixed[row, col]),
            _leaves(test.targets[row], classes),
            _leaves(y_pred[row], classes),
        )
        for row, col, kind in picks
    ]

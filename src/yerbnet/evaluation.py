"""The evaluate stage: tune thresholds on val, score the test split, write metrics, plots and a report.

Metrics layout (``dvclive/evaluate/metrics.json``, keys documented in README "Metric keys"):
top-level overall metrics and ``per_class`` at the thresholds ``evaluate.threshold`` selects,
``at_half`` and ``at_tuned`` the same at 0.5 and at the val-tuned thresholds, ``rule_breaks``
how often the raw model broke the hierarchy rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from dvclive import Live

from yerbnet import figures, files, metrics, model_card, report
from yerbnet.hierarchy import Hierarchy
from yerbnet.params import EvaluateParams
from yerbnet.pipeline import read_index, split_dataset
from yerbnet.saved_model import load_model

BATCH_SIZE = 64


@dataclass(frozen=True)
class Outputs:
    """Where the stage writes; one place so the stage script and the tests agree."""

    thresholds: Path
    live: Path
    report: Path
    figures: Path
    model_card: Path


@dataclass(frozen=True)
class Split:
    targets: np.ndarray  # int8, images x classes
    raw: np.ndarray      # sigmoid scores straight from the model
    ids: list[str]


def predict_split(model: keras.Model, shards_dir: Path, split: str) -> Split:
    """Targets, raw scores and record ids of a split, in shard order; images are not kept."""
    targets, scores, ids = [], [], []
    for images, labels, batch_ids in split_dataset(shards_dir, split, BATCH_SIZE, with_ids=True):
        scores.append(np.asarray(model.predict_on_batch(images)))
        targets.append(labels.numpy())
        ids += [i.decode() for i in batch_ids.numpy()]
    return Split(np.concatenate(targets).astype(np.int8), np.concatenate(scores), ids)


def score(split: Split, thresholds: np.ndarray, hierarchy: Hierarchy,
          classes: list[str]) -> tuple[dict, np.ndarray, np.ndarray]:
    """Overall and per-class metrics of the consistent predictions; also the fixed scores and labels."""
    fixed, y_pred = hierarchy.decide(split.raw, thresholds)
    per_class = metrics.per_class(split.targets, y_pred, fixed, classes)
    for name, t in zip(classes, thresholds):
        per_class[name]["threshold"] = float(t)
    results = {**metrics.overall(split.targets, y_pred, fixed),
               "per_class": {metrics.metric_key(n): m for n, m in per_class.items()}}
    return results, fixed, y_pred


def _threshold_view(results: dict) -> dict:
    """Overall metrics plus the threshold-dependent per-class ones (support and AP do not change)."""
    keep = ("precision", "recall", "f1", "threshold")
    return {**{k: v for k, v in results.items() if k != "per_class"},
            "per_class": {key: {k: m[k] for k in keep} for key, m in results["per_class"].items()}}


def flatten(tree: dict, prefix: str = "") -> dict[str, float]:
    """``{"a": {"b": 1}}`` -> ``{"a/b": 1}``: the paths dvclive nests back into the same tree."""
    flat: dict[str, float] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def evaluate(cfg: EvaluateParams, model_path: Path, shards_dir: Path, out: Outputs,
             train_plots: Path | None = None, posts: pd.DataFrame | None = None) -> dict:
    """Write thresholds, metrics, plots, the report and (given the scraped ``posts``) the model card;
    return the metrics tree."""
    index = read_index(shards_dir)
    classes = index["classes"]
    metrics.check_keys(classes)
    hierarchy = Hierarchy.of(classes)
    model = load_model(model_path)

    val = predict_split(model, shards_dir, "val")
    tuned = metrics.tune_thresholds(val.targets, hierarchy.scores(val.raw))
    selected = tuned if cfg.threshold == "tuned" else np.full(len(classes), float(cfg.threshold))
    files.write_json(out.thresholds, {"mode": str(cfg.threshold),
                                      "thresholds": {c: float(t) for c, t in zip(classes, selected)}})

    test = predict_split(model, shards_dir, "test")
    results, fixed, y_pred = score(test, selected, hierarchy, classes)
    results["test_images"] = len(test.ids)
    results["rule_breaks"] = hierarchy.violations(test.raw, selected)
    results["at_half"] = _threshold_view(score(test, np.full(len(classes), 0.5), hierarchy, classes)[0])
    results["at_tuned"] = _threshold_view(score(test, tuned, hierarchy, classes)[0])

    _log(results, test.targets, y_pred, fixed, classes, out.live)
    _draw(results, test, fixed, y_pred, classes, model_path, shards_dir, cfg, out.figures, train_plots)
    counts = {s: info["positives"] for s, info in index["splits"].items()}
    files.write_text(out.report, report.markdown(results, classes, str(cfg.threshold),
                                                 metrics.confusions(test.targets, y_pred, classes), counts))
    if posts is not None:
        interval = metrics.bootstrap_macro_f1(test.targets, y_pred)
        files.write_text(out.model_card, model_card.markdown(results, classes, index, posts, interval, model.name))
    return results


def _log(results: dict, y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray, classes: list[str],
         live_dir: Path) -> None:
    """Metrics, per-class confusion matrices, PR curves and the F1 bar data, for dvc metrics/plots."""
    with Live(str(live_dir), dvcyaml=False, save_dvc_exp=False) as live:
        for name, value in flatten(results).items():
            live.log_metric(name, value, plot=False)
        for c, name in enumerate(classes):
            key = metrics.metric_key(name)
            live.log_sklearn_plot("confusion_matrix", y_true[:, c].tolist(), y_pred[:, c].tolist(),
                                  name=f"confusion/{key}.json", title=f"{name}: actual vs predicted")
            if y_true[:, c].any():
                live.log_sklearn_plot("precision_recall", y_true[:, c].tolist(), scores[:, c].tolist(),
                                      name=f"precision_recall/{key}.json", title=f"{name}: precision-recall",
                                      drop_intermediate=True)
        live.log_plot("per_class_f1", [{"class": n, "f1": results["per_class"][metrics.metric_key(n)]["f1"]}
                                       for n in classes], x="f1", y="class", template="bar_horizontal_sorted")


def _draw(results: dict, test: Split, fixed: np.ndarray, y_pred: np.ndarray, classes: list[str],
          model_path: Path, shards_dir: Path, cfg: EvaluateParams, out_dir: Path,
          train_plots: Path | None) -> None:
    per_class = {n: results["per_class"][metrics.metric_key(n)] for n in classes}
    figures.per_class_f1({n: m["f1"] for n, m in per_class.items()},
                         {n: bool(m["supported"]) for n, m in per_class.items()}, out_dir / "per_class_f1.png")
    figures.pr_curves(test.targets, fixed, classes, out_dir / "precision_recall.png")
    if train_plots is not None and train_plots.exists():
        figures.train_curves(train_plots, out_dir / "train_curves.png")
    picks = worst(test.targets, fixed, y_pred, cfg.worst_errors)
    figures.mistakes(_mistakes(picks, test, fixed, y_pred, classes, shards_dir), out_dir / "worst_errors.png")


def worst(y_true: np.ndarray, scores: np.ndarray, y_pred: np.ndarray, n: int) -> list[tuple[int, int, str]]:
    """Up to ``n`` false positives with the highest scores and ``n`` false negatives with the lowest,
    one per image: ``(image row, class column, kind)``."""
    picks: list[tuple[int, int, str]] = []
    for kind, wrong, order in (("false positive", (y_pred == 1) & (y_true == 0), -scores),
                               ("false negative", (y_pred == 0) & (y_true == 1), scores)):
        rows, cols = np.nonzero(wrong)
        seen: set[int] = set()
        for i in np.argsort(order[rows, cols], kind="stable"):
            if rows[i] not in seen and len(seen) < n:
                seen.add(int(rows[i]))
                picks.append((int(rows[i]), int(cols[i]), kind))
    return picks


def _leaves(row: np.ndarray, classes: list[str]) -> list[str]:
    """The most specific labels of a 0/1 row: a parent is implied by its children."""
    names = [classes[c] for c in np.flatnonzero(row)]
    return [n for n in names if not any(o.startswith(n + "/") for o in names)]


def _mistakes(picks: list[tuple[int, int, str]], test: Split, fixed: np.ndarray, y_pred: np.ndarray, classes: list[str],
              shards_dir: Path) -> list[figures.Mistake]:
    """Read back only the picked images: a second pass over the test shards keeps memory flat."""
    wanted = {test.ids[row]: row for row, _, _ in picks}
    images: dict[int, np.ndarray] = {}
    for batch, _, ids in split_dataset(shards_dir, "test", BATCH_SIZE, with_ids=True):
        for image, record_id in zip(batch.numpy(), ids.numpy()):
            if record_id.decode() in wanted:
                images[wanted[record_id.decode()]] = image.astype(np.uint8)
    return [figures.Mistake(images[row], kind, classes[col], float(fixed[row, col]),
                            _leaves(test.targets[row], classes), _leaves(y_pred[row], classes))
            for row, col, kind in picks]

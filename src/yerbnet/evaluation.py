"""The evaluate stage: score the test split, log per-class metrics and confusion matrices."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from dvclive import Live

from yerbnet import files, metrics
from yerbnet.errors import UserError
from yerbnet.params import EvaluateParams
from yerbnet.pipeline import read_index, split_dataset

BATCH_SIZE = 64


def load_model(model_path: Path) -> keras.Model:
    if not model_path.exists():
        raise UserError(f"{model_path}: not found; run the train stage first")
    return keras.models.load_model(model_path, compile=False)


def predict_split(model: keras.Model, shards_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Targets and sigmoid scores for every record of a split, in shard order."""
    targets, scores = [], []
    for images, labels in split_dataset(shards_dir, split, BATCH_SIZE):
        scores.append(model.predict_on_batch(images))
        targets.append(labels.numpy())
    return np.concatenate(targets).astype(np.int8), np.concatenate(scores)


def evaluate(cfg: EvaluateParams, model_path: Path, shards_dir: Path, thresholds_path: Path,
             live_dir: Path) -> dict[str, float]:
    """Write metrics and plots for the test split under ``live_dir``; return the overall metrics."""
    classes = read_index(shards_dir)["classes"]
    model = load_model(model_path)
    if cfg.threshold == "tuned":
        thresholds = metrics.tune_thresholds(*predict_split(model, shards_dir, "val"))
    else:
        thresholds = np.full(len(classes), cfg.threshold)
    files.write_json(thresholds_path, {c: float(t) for c, t in zip(classes, thresholds)})

    y_true, scores = predict_split(model, shards_dir, "test")
    y_pred = metrics.binarize(scores, thresholds)
    summary = metrics.overall(y_true, y_pred)
    with Live(str(live_dir), dvcyaml=False, save_dvc_exp=False) as live:
        for name, value in summary.items():
            live.log_metric(name, value, plot=False)
        for name, values in metrics.per_class(y_true, y_pred, classes).items():
            for metric, value in values.items():
                live.log_metric(f"per_class/{metrics.metric_key(name)}/{metric}", value, plot=False)
        for c, name in enumerate(classes):
            live.log_sklearn_plot("confusion_matrix", y_true[:, c].tolist(), y_pred[:, c].tolist(),
                                  name=f"confusion/{metrics.metric_key(name)}.json",
                                  title=f"{name}: actual vs predicted")
    return summary

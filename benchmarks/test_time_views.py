"""Test-time views compared on trained models: test macro F1 of each, thresholds tuned on val with the same views.

For every project folder given (a checkout after `dvc repro`, e.g. one kept by
`realistic_quality.py --keep`: models/model.keras and data/augmented), scores the val and
test splits under each way of looking at a photo, tunes thresholds on val exactly as the
evaluate stage does, and prints test macro F1 (tuned and at 0.5) of the hierarchy-consistent
answers. Views: the photo alone; with the four corner and the centre crop of 0.8 or 0.65 of
the side zoomed back to full size (what `train.test_time_crops` builds into the model); with
the photo shifted a tenth of its side four ways. Each combines its views by the mean or by
the max of each class's scores. A model trained with `train.test_time_crops` is rebuilt
without its built-in views (same weights, from the project's params.yaml), so "photo alone"
is always the plain model.

    python benchmarks/test_time_views.py /tmp/yerbnet-realistic-xxxx [...]
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from yerbnet import metrics
from yerbnet.classtree.decisions import Hierarchy
from yerbnet.input_pipeline import read_index, split_dataset
from yerbnet.models import build_model
from yerbnet.params import load_params
from yerbnet.saved_model import load_model


def crops(images: tf.Tensor, fraction: float) -> list[tf.Tensor]:
    side = images.shape[1]
    crop = round(side * fraction)
    starts = [(0, 0), (0, side - crop), (side - crop, 0), (side - crop, side - crop), ((side - crop) // 2,) * 2]
    return [tf.image.resize(images[:, y : y + crop, x : x + crop], (side, side)) for y, x in starts]


def shifts(images: tf.Tensor) -> list[tf.Tensor]:
    step = images.shape[1] // 10
    return [tf.roll(images, shift, (1, 2)) for shift in [(step, 0), (-step, 0), (0, step), (0, -step)]]


EXTRA_VIEWS = {"crops 0.8": lambda x: crops(x, 0.8), "crops 0.65": lambda x: crops(x, 0.65), "shifts": shifts}


def scores_by_view(model: keras.Model, shards: Path, split: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Targets, and per view family the scores (views x images x classes), the photo itself first."""
    targets, scores = [], {name: [] for name in ["photo", *EXTRA_VIEWS]}
    for images, labels in split_dataset(shards, split, 64):
        targets.append(labels.numpy())
        whole = np.asarray(model.predict_on_batch(images))
        scores["photo"].append(whole[None])
        for name, views in EXTRA_VIEWS.items():
            scores[name].append(np.stack([whole, *(np.asarray(model.predict_on_batch(v)) for v in views(images))]))
    return np.concatenate(targets).astype(np.int8), {k: np.concatenate(v, axis=1) for k, v in scores.items()}


def combined(scores: dict[str, np.ndarray]) -> Iterator[tuple[str, np.ndarray]]:
    yield "photo alone", scores["photo"][0]
    for name in EXTRA_VIEWS:
        yield f"photo + {name}, mean", scores[name].mean(axis=0)
        yield f"photo + {name}, max", scores[name].max(axis=0)


def plain_model(project: Path, classes: list[str]) -> keras.Model:
    """The project's trained model, without test-time views."""
    model = load_model(project / "models" / "model.keras")
    params = load_params(project / "params.yaml")
    if params.train.test_time_crops is None:
        return model
    cfg = dataclasses.replace(params.train, test_time_crops=None, weights=None)
    plain = build_model(cfg, params.image_size, len(classes), Hierarchy.of(classes).parent_columns())
    plain.set_weights(model.get_weights())
    return plain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projects", nargs="+", type=Path)
    args = parser.parse_args()
    table: dict[str, list[tuple[float, float]]] = {}
    for project in args.projects:
        shards = project / "data" / "augmented"
        classes = read_index(shards)["classes"]
        hierarchy = Hierarchy.of(classes)
        model = plain_model(project, classes)
        val_targets, val_scores = scores_by_view(model, shards, "val")
        test_targets, test_scores = scores_by_view(model, shards, "test")
        for (name, val), (_, test) in zip(combined(val_scores), combined(test_scores), strict=True):
            row = []
            for thresholds in (metrics.tune_thresholds(val_targets, hierarchy.scores(val)), 0.5):
                fixed, labels = hierarchy.decide(test, np.broadcast_to(thresholds, test.shape[1]))
                row.append(metrics.overall(test_targets, labels, fixed)["macro_f1"])
            table.setdefault(name, []).append((row[0], row[1]))
            print(f"{project}: {name}: macro F1 {row[0]:.3f} tuned, {row[1]:.3f} at 0.5", flush=True)
    print("\n| views | macro F1 tuned, per project | mean | at 0.5, mean |\n|---|---|---:|---:|")
    for name, rows in table.items():
        tuned = " / ".join(f"{t:.3f}" for t, _ in rows)
        print(f"| {name} | {tuned} | {np.mean([t for t, _ in rows]):.3f} | {np.mean([h for _, h in rows]):.3f} |")


if __name__ == "__main__":
    main()

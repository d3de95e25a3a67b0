"""Threshold tuning strategies compared on trained models: test F1 of each, same scores.

For every project folder given (a checkout after `dvc repro`: models/model.keras and
data/augmented), scores the val and test splits once, then picks per-class thresholds on
val by each strategy and reports test macro F1, micro F1 and subset accuracy of the
hierarchy-consistent answers (what evaluate reports):

- ``half``: 0.5 everywhere;
- ``lowest_tie``: best val F1, ties to the lowest threshold (yerbnet before this change);
- ``middle``: best val F1, the middle of the widest tied run;
- ``middle+support``: and classes with fewer than 5 val positives keep 0.5;
- ``middle+support+f1``: and classes whose best val F1 is below 0.3 keep 0.5 (the default).

    python benchmarks/threshold_tuning.py . /tmp/yerbnet-realistic-xxxx [...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from yerbnet import metrics
from yerbnet.classtree.decisions import Hierarchy
from yerbnet.evaluate import predict_split
from yerbnet.input_pipeline import read_index
from yerbnet.saved_model import load_model


def lowest_tie(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    thresholds = np.full(y_true.shape[1], 0.5)
    for c in metrics.present(y_true):
        f1s = [f1_score(y_true[:, c], scores[:, c] >= t, zero_division=0.0) for t in metrics.THRESHOLD_GRID]
        thresholds[c] = metrics.THRESHOLD_GRID[int(np.argmax(f1s))]
    return thresholds


STRATEGIES = {
    "half": lambda y, s: np.full(y.shape[1], 0.5),
    "lowest_tie": lowest_tie,
    "middle": lambda y, s: metrics.tune_thresholds(y, s, min_support=0, min_f1=0.0),
    "middle+support": lambda y, s: metrics.tune_thresholds(y, s, min_f1=0.0),
    "middle+support+f1": metrics.tune_thresholds,
}


def compare(project: Path) -> dict[str, dict[str, float]]:
    shards = project / "data" / "augmented"
    classes = read_index(shards)["classes"]
    hierarchy = Hierarchy.of(classes)
    model = load_model(project / "models" / "model.keras")
    val, test = predict_split(model, shards, "val"), predict_split(model, shards, "test")
    results = {}
    for name, strategy in STRATEGIES.items():
        thresholds = strategy(val.targets, hierarchy.scores(val.raw))
        _, y_pred = hierarchy.decide(test.raw, thresholds)
        scores = metrics.overall(test.targets, y_pred, hierarchy.scores(test.raw))
        results[name] = {k: scores[k] for k in ("macro_f1", "micro_f1", "subset_accuracy")}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("projects", nargs="+", type=Path)
    args = parser.parse_args()
    print(f"{'project':40s} {'strategy':20s} {'macro F1':>9s} {'micro F1':>9s} {'subset acc':>10s}")
    for project in args.projects:
        for name, row in compare(project).items():
            print(
                f"{str(project)[-40:]:40s} {name:20s} {row['macro_f1']:9.3f} {row['micro_f1']:9.3f} "
                f"{row['subset_accuracy']:10.3f}"
            )


if __name__ == "__main__":
    main()

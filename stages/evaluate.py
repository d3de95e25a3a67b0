"""evaluate: models/model.keras on the test split -> dvclive/evaluate metrics and confusion plots."""

from pathlib import Path

from yerbnet.errors import reported_as_exit
from yerbnet.evaluation import evaluate
from yerbnet.params import load_params

SHARDS = Path("data/augmented")
MODEL = Path("models/model.keras")
THRESHOLDS = Path("models/thresholds.json")
LIVE = Path("dvclive/evaluate")

if __name__ == "__main__":
    with reported_as_exit():
        params = load_params()
        summary = evaluate(params.evaluate, MODEL, SHARDS, THRESHOLDS, LIVE)
        print("evaluate: " + ", ".join(f"{k} {v:.3f}" for k, v in summary.items()))

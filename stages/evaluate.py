"""evaluate: models/model.keras on val (thresholds) and test -> metrics, plots, reports/evaluation.md."""

from pathlib import Path

from yerbnet.errors import reported_as_exit
from yerbnet.evaluation import Outputs, evaluate
from yerbnet.params import load_params

SHARDS = Path("data/augmented")
MODEL = Path("models/model.keras")
TRAIN_PLOTS = Path("dvclive/train/plots/metrics")
OUT = Outputs(thresholds=Path("models/thresholds.json"), live=Path("dvclive/evaluate"),
              report=Path("reports/evaluation.md"), figures=Path("reports/figures"))

if __name__ == "__main__":
    with reported_as_exit():
        results = evaluate(load_params().evaluate, MODEL, SHARDS, OUT, TRAIN_PLOTS)
        print("evaluate: " + ", ".join(f"{k} {results[k]:.3f}" for k in ("macro_f1", "micro_f1", "macro_pr_auc"))
              + f"; raw model broke a hierarchy rule on {results['rule_breaks']['any_rule']} of "
              + f"{results['test_images']} test images; report: {OUT.report}")

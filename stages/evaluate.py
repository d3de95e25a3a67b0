"""evaluate: models/model.keras on val (thresholds) and test -> metrics, plots, reports/evaluation.md, model card."""

from pathlib import Path

from yerbnet.errors import reported_as_exit
from yerbnet.evaluate import Outputs, evaluate, run_info
from yerbnet.params import load_params
from yerbnet.sources.manifest import read_manifest

RAW = Path("data/raw")  # posts.csv: the source and dates the model card names
SHARDS = Path("data/augmented")
MODEL = Path("models/model.keras")
TRAIN_PLOTS = Path("dvclive/train/plots/metrics")
OUT = Outputs(
    thresholds=Path("models/thresholds.json"),
    live=Path("dvclive/evaluate"),
    details=Path("reports/evaluation.json"),
    report=Path("reports/evaluation.md"),
    figures=Path("reports/figures"),
    model_card=Path("reports/model_card.md"),
)

if __name__ == "__main__":
    with reported_as_exit():
        params = load_params()
        results = evaluate(
            params.evaluate, MODEL, SHARDS, OUT, TRAIN_PLOTS, read_manifest(RAW), run_info(params, SHARDS)
        )
        print(
            "evaluate: "
            + ", ".join(f"{k} {results[k]:.3f}" for k in ("macro_f1", "micro_f1", "macro_pr_auc"))
            + f"; raw model broke a hierarchy rule on {results['rule_breaks']['any_rule']} of "
            + f"{results['test_images']} test images; report: {OUT.report}"
        )

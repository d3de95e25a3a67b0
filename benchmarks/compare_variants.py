"""Train and evaluate several param variants on the current data, side by side.

Each variant runs the train and evaluate stages in a scratch copy of the project that
shares this workspace's `data/augmented` (so run `dvc repro augment` first); the
workspace, its models and dvc.lock are untouched. Prints a Markdown table.

    python benchmarks/compare_variants.py train.loss=bce train.loss=weighted_bce train.loss=focal
    python benchmarks/compare_variants.py "train.architecture=mobilenet_v2 train.head=gap"
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import yaml
from stage_costs import ROOT, copy_project, run_stage


def apply(params: dict, assignment: str) -> None:
    """Set a dotted key (``train.loss=focal``) in a nested params mapping."""
    key, _, value = assignment.partition("=")
    *parents, leaf = key.split(".")
    node = params
    for name in parents:
        node = node[name]
    node[leaf] = yaml.safe_load(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", help="space-separated key=value assignments, one argument per variant")
    args = parser.parse_args()
    if not (ROOT / "data" / "augmented" / "index.json").exists():
        raise SystemExit("data/augmented is missing: run `dvc repro augment` first")
    print(
        "| variant | macro F1 (tuned) | macro F1 (0.5) | micro F1 | No Yerb F1 | train (s) |\n"
        "|---|---:|---:|---:|---:|---:|"
    )
    for variant in args.variants:
        work = Path(tempfile.mkdtemp(prefix="yerbnet-variant-"))
        copy_project(work)
        shutil.copytree(ROOT / "data" / "augmented", work / "data" / "augmented")
        (work / "data" / "raw").mkdir()
        shutil.copy2(ROOT / "data" / "raw" / "posts.csv", work / "data" / "raw")  # the model card names its source
        params = yaml.safe_load((work / "params.yaml").read_text())
        for assignment in variant.split():
            apply(params, assignment)
        (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        started = time.perf_counter()
        run_stage("python stages/train.py", work)
        seconds = time.perf_counter() - started
        run_stage("python stages/evaluate.py", work)
        metrics = json.loads((work / "reports" / "evaluation.json").read_text())
        print(
            f"| {variant} | {metrics['at_tuned']['macro_f1']:.3f} | {metrics['at_half']['macro_f1']:.3f} | "
            f"{metrics['micro_f1']:.3f} | "
            f"{metrics['per_class']['No Yerb']['f1']:.3f} | {seconds:.0f} |",
            flush=True,
        )
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

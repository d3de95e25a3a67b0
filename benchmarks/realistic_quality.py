"""Test F1 of the whole pipeline on the realistic set: photos nobody drew for the model.

Builds the set with benchmarks/realistic_set.py when DIR/labels.csv is missing, copies the
project into a scratch git repo (the workspace and its dvc.lock stay untouched), points
`scrape` at DIR/photos and `labels.export` at DIR/labels.csv, applies the -S overrides,
runs `dvc repro` and prints test macro F1 (tuned and at 0.5), macro F1 over each family's
flavours, and per-class F1 with support. Compare a change by running it before and after.

    python benchmarks/realistic_quality.py [--set DIR | --embedded] [--seed 42] [-S train.epochs=30 ...]
                                           [--json OUT] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import realistic_set
import yaml
from compare_variants import apply
from stage_costs import copy_project

DEFAULT_SET = Path(tempfile.gettempdir()) / "yerbnet-realistic"
FAMILIES = ("Cans", "Cans/Slim", "Bottles")


def key(label: str) -> str:
    """A class's metric key: `/` becomes `.` (README, Metric keys)."""
    return label.replace("/", ".")


def prepare(work: Path, photo_set: Path | None, overrides: list[str]) -> None:
    """A scratch copy of the project whose params read the realistic set (None: the embedded default),
    committed (dvclive needs a commit)."""
    copy_project(work)
    params = yaml.safe_load((work / "params.yaml").read_text())
    source = (
        []
        if photo_set is None
        else [
            "scrape.source=directory",
            f"scrape.directory={photo_set / 'photos'}",
            f"labels.export={photo_set / 'labels.csv'}",
        ]
    )
    for assignment in [*source, *overrides]:
        apply(params, assignment)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qam", "realistic set"],
        cwd=work,
        check=True,
    )


def repro(work: Path) -> float:
    """Run `dvc repro` with this interpreter's bin first on PATH and the copy's own `src` first on the import
    path (the editable install points at the workspace, which may change while a run is going); return its
    wall seconds."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(work / "src"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    log = work / "repro.log"
    started = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(["dvc", "repro"], cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode:
        raise SystemExit(f"dvc repro failed in {work} (kept); the end of {log}:\n{log.read_text()[-3000:]}")
    return time.perf_counter() - started


def summarise(work: Path) -> dict[str, Any]:
    """The figures worth comparing, from the evaluate stage's full results and the label import's report."""
    metrics = json.loads((work / "reports" / "evaluation.json").read_text())
    report = json.loads((work / "data" / "labels" / "report.json").read_text())
    classes = {
        label: {
            **{k: metrics["per_class"][key(label)][k] for k in ("support", "precision", "recall", "f1")},
            "f1_at_half": metrics["at_half"]["per_class"][key(label)]["f1"],
        }
        for label in [*realistic_set.LEAVES, *FAMILIES, realistic_set.NO_YERB]
    }
    families = {}
    for family in FAMILIES:
        flavours = [
            classes[leaf]
            for leaf in realistic_set.LEAVES
            if leaf.rsplit("/", 1)[0] == family and classes[leaf]["support"]
        ]
        families[family] = {
            name: sum(c[field] for c in flavours) / len(flavours) if flavours else 0.0
            for name, field in (("macro_f1", "f1"), ("macro_f1_at_half", "f1_at_half"))
        }
        families[family]["flavours_present"] = len(flavours)
    return {
        "labels": {k: report[k] for k in ("rows_read", "matched_images", "rows_without_image")},
        "test_images": metrics["test_images"],
        "classes_present": metrics["classes_present"],
        "macro_f1_tuned": metrics["at_tuned"]["macro_f1"],
        "macro_f1_at_half": metrics["at_half"]["macro_f1"],
        "micro_f1": metrics["micro_f1"],
        "families": families,
        "per_class": classes,
    }


def show(result: dict[str, Any]) -> None:
    labels = result["labels"]
    print(
        f"machine: {result['machine']}\nset: {result['set']}; overrides: {' '.join(result['overrides']) or 'none'}\n"
        f"dvc repro: {result['repro_seconds']:.0f} s\n"
        f"labels: {labels['matched_images']} of {labels['rows_read']} export rows matched a photo "
        f"({labels['rows_without_image']} without one)\n"
        f"test: {result['test_images']} images, {result['classes_present']} classes present; macro F1 "
        f"{result['macro_f1_tuned']:.3f} tuned, {result['macro_f1_at_half']:.3f} at 0.5; "
        f"micro F1 {result['micro_f1']:.3f}\n"
    )
    print("| family | flavours in test | macro F1 (tuned) | macro F1 (0.5) |\n|---|---:|---:|---:|")
    for family, row in result["families"].items():
        print(f"| {family} | {row['flavours_present']} | {row['macro_f1']:.3f} | {row['macro_f1_at_half']:.3f} |")
    print("\n| class | support | precision | recall | F1 (tuned) | F1 (0.5) |\n|---|---:|---:|---:|---:|---:|")
    for label, row in sorted(result["per_class"].items()):
        print(
            f"| {label} | {row['support']} | {row['precision']:.3f} | {row['recall']:.3f} | "
            f"{row['f1']:.3f} | {row['f1_at_half']:.3f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help=f"the realistic set (default {DEFAULT_SET})")
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="run on the embedded synthetic default instead, for the same figures side by side",
    )
    parser.add_argument("--seed", type=int, default=42, help="the pipeline's params seed")
    parser.add_argument(
        "-S",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a params override, dotted key, YAML value; repeatable",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the scratch repo (reports/, models/)")
    args = parser.parse_args()
    photo_set = None if args.embedded else args.set.resolve()
    if photo_set is not None and not (photo_set / "labels.csv").exists():
        print(f"building the realistic set in {photo_set} ...", flush=True)
        realistic_set.build(photo_set, images=1200, seed=0)
    work = Path(tempfile.mkdtemp(prefix="yerbnet-realistic-"))
    overrides = [f"seed={args.seed}", *args.overrides]
    prepare(work, photo_set, overrides)
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "set": str(photo_set or "embedded"),
        "overrides": overrides,
        "repro_seconds": repro(work),
        **summarise(work),
    }
    show(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.keep:
        print(f"\nscratch repo kept: {work}")
    else:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

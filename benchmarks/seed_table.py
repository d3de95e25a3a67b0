"""One row per lever from `realistic_quality.py --json` files: mean and range over the seeds run.

Runs are grouped by their overrides without the seed, so the same lever run with --seed 42, 1
and 2 becomes one row; the per-family columns are means of each family's flavour macro F1.

    python benchmarks/seed_table.py RUN.json [RUN.json ...]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from statistics import mean
from typing import Any


def lever(run: dict[str, Any]) -> str:
    changes = [o for o in run["overrides"] if not o.startswith("seed=") and not o.startswith("scrape.")]
    return " ".join(changes) or "defaults"


def seed(run: dict[str, Any]) -> str:
    return next(o.removeprefix("seed=") for o in run["overrides"] if o.startswith("seed="))


def row(name: str, runs: list[dict[str, Any]]) -> str:
    tuned = [r["macro_f1_tuned"] for r in runs]
    half = [r["macro_f1_at_half"] for r in runs]
    micro = [r["micro_f1"] for r in runs]
    families = " / ".join(f"{mean(r['families'][f]['macro_f1'] for r in runs):.2f}" for f in runs[0]["families"])
    seeds = " / ".join(f"{seed(r)}: {r['macro_f1_tuned']:.3f}" for r in runs)
    spread = f"{mean(tuned):.3f} ({min(tuned):.3f}-{max(tuned):.3f})"
    data_set = Path(runs[0]["set"]).name
    return f"| {name} | {data_set} | {seeds} | {spread} | {mean(half):.3f} | {mean(micro):.3f} | {families} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for path in args.runs:
        run = json.loads(path.read_text())
        groups[(lever(run), run["set"])].append(run)
    print(
        "| lever | set | macro F1 tuned, by seed | mean (range) | at 0.5, mean | micro F1, mean"
        " | flavours: Cans / Slim / Bottles |"
    )
    print("|---|---|---|---:|---:|---:|---|")
    for (name, _), runs in groups.items():
        print(row(name, sorted(runs, key=lambda r: r["overrides"])))


if __name__ == "__main__":
    main()

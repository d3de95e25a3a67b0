"""The ``yerbnet`` command: ``yerbnet predict PATH...`` and ``yerbnet classes``."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from yerbnet.errors import reported_as_exit


def _predict(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from yerbnet.predict import Predictor, image_paths

    paths = image_paths(args.paths)
    predictor = Predictor(args.model_dir, threshold=args.threshold)
    rows, failed = [], 0
    for result in tqdm(predictor.predict(paths), total=len(paths), unit="img", disable=len(paths) < 50):
        if isinstance(result, tuple):
            print(f"skipped {result[0]}: {result[1]}", file=sys.stderr)
            failed += 1
            continue
        best = list(result.scores)[: args.top_k]  # scores are ordered highest first
        shown = result.labels + [c for c in best if c not in result.labels]
        rows.append({"path": str(result.path), "labels": result.labels,
                     "scores": {c: round(result.scores[c], 4) for c in shown}})
    _emit(rows, args.format)
    return 0 if rows or not paths else 1


def _emit(rows: list[dict], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["path", "labels", "scores"])
        for row in rows:
            writer.writerow([row["path"], ";".join(row["labels"]), json.dumps(row["scores"])])
    else:
        for row in rows:
            shown = ", ".join(f"{c} {s:.2f}" for c, s in row["scores"].items()) or "-"
            print(f"{row['path']}\t{shown}")


def _classes(args: argparse.Namespace) -> int:
    report = json.loads((args.encoded / "classes.json").read_text(encoding="utf-8"))
    counts = report["counts"]
    print(f"{'class':40s} {'train':>6s} {'val':>6s} {'test':>6s}")
    for name in report["classes"]:
        depth = name.count("/")
        print(f"{'  ' * depth + name.rsplit('/', 1)[-1]:40s} "
              + " ".join(f"{counts[s][name]:6d}" for s in ("train", "val", "test")))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="yerbnet", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="print the products found in images")
    predict.add_argument("paths", nargs="+", type=Path, help="image files or folders")
    predict.add_argument("--model-dir", type=Path, default=Path("models"))
    predict.add_argument("--format", choices=("table", "json", "csv"), default="table")
    predict.add_argument("--top-k", type=int, default=0, help="also show the k best scores")
    predict.add_argument("--threshold", type=float, help="one threshold for all classes (default: models/thresholds.json)")
    predict.set_defaults(run=_predict)
    classes = commands.add_parser("classes", help="print the class tree with counts per split")
    classes.add_argument("--encoded", type=Path, default=Path("data/encoded"))
    classes.set_defaults(run=_classes)
    args = parser.parse_args(argv)
    with reported_as_exit():
        return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())

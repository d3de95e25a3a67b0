"""The ``yerbnet`` command: ``predict PATH...``, ``export``, ``classes``, ``report`` and ``backbone OUT``."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from yerbnet.errors import UserError, reported_as_exit
from yerbnet.export import FORMATS

if TYPE_CHECKING:
    from yerbnet.predict import Prediction, Predictor


def _targets(args: argparse.Namespace) -> tuple[list[Path], dict[Path, PurePosixPath]]:
    """The paths given, or with ``--new`` the scraped photos that the labels export does not name;
    with each scraped photo the path it was uploaded under."""
    if not args.new:
        if not args.paths:
            raise UserError("predict: give image files or folders, or --new for the photos not labelled yet")
        return args.paths, {}
    if args.paths:
        raise UserError("--new predicts the scraped photos that the labels export does not name; give no paths with it")
    from yerbnet.prelabels import new_images

    export = args.export or _labels_export(args.raw)
    new = new_images(args.raw, export)
    print(f"{len(new)} photo(s) in {args.raw} not named by {export}", file=sys.stderr)
    return list(new), new


def _labels_export(raw: Path) -> Path:
    """The export import_labels reads: ``labels.export`` in params.yaml, else the one the synthetic source wrote."""
    from yerbnet.params import load_params
    from yerbnet.sources.manifest import SYNTHETIC_EXPORT

    export = load_params().labels.export
    return Path(export) if export else raw / SYNTHETIC_EXPORT


def _predictions(
    predictor: Predictor, paths: Iterator[Path], args: argparse.Namespace, bar: bool
) -> Iterator[Prediction]:
    """Predictions in order; skipped files reported on stderr as they come."""
    from tqdm import tqdm

    from yerbnet.predict import Skipped

    # Only on a terminal (tqdm's disable=None): the count is unknown up front.
    results = tqdm(
        predictor.predict(paths, args.batch_size), unit="img", disable=None if bar else True, file=sys.stderr
    )
    for result in results:
        if isinstance(result, Skipped):
            results.write(f"skipped {result.path}: {result.reason}", file=sys.stderr)
        else:
            yield result


def _row(prediction: Prediction, top_k: int) -> dict:
    extra = [c for c in list(prediction.scores)[:top_k] if c not in prediction.labels]
    return {
        "path": str(prediction.path),
        "labels": prediction.labels,
        "scores": {c: round(prediction.scores[c], 4) for c in prediction.labels + extra},
    }


def _predict(args: argparse.Namespace) -> int:
    """Stream rows out as they come (memory stays flat on any folder) unless sorting or a contact sheet
    needs them all first; exit 1 if none came (except when ``--new`` finds no new photo)."""
    from yerbnet import prelabels
    from yerbnet.predict import Predictor, image_paths

    if args.top_k < 0:
        raise UserError(f"--top-k {args.top_k}: must be 0 or more")
    if args.batch_size < 1:
        raise UserError(f"--batch-size {args.batch_size}: must be 1 or more")
    targets, uploads = _targets(args)
    paths = image_paths(targets)
    predictor = Predictor(args.model_dir, threshold=args.threshold)
    thresholds = dict(zip(predictor.classes, predictor.thresholds.tolist()))
    folders = [t for t in targets if t.is_dir()]
    predictions: Iterable[Prediction] = _predictions(predictor, paths, args, bar=bool(folders) or args.new)
    if args.sort == "uncertain" or args.html:
        predictions = list(predictions)
        if args.html:
            prelabels.write_contact_sheet(args.html, predictions, thresholds, predictor.limits, folders, uploads)
        if args.sort == "uncertain":
            predictions = prelabels.most_uncertain_first(predictions, thresholds)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    count = 0
    if args.format == "csv":
        writer.writerow(["path", "labels", "scores"])
    for prediction in predictions:
        row = _row(prediction, args.top_k)
        if args.format == "json":
            print(("[\n" if count == 0 else ",\n") + json.dumps(row, ensure_ascii=False), end="")
        elif args.format == "csv":
            writer.writerow([row["path"], ";".join(row["labels"]), json.dumps(row["scores"], ensure_ascii=False)])
        elif args.format == "azure-jsonl":
            print(
                prelabels.azure_jsonl_line(
                    prediction,
                    prelabels.relative_path(prediction.path, folders, uploads),
                    prelabels.URL_PREFIX if args.url_prefix is None else args.url_prefix,
                )
            )
        else:
            print(f"{row['path']}\t{_table_cell(row)}")
        count += 1
    if args.format == "json":
        print("[]" if count == 0 else "\n]")
    if count == 0 and targets:
        print("error: no image could be predicted", file=sys.stderr)
        return 1
    return 0


def _table_cell(row: dict) -> str:
    """``Cans 0.98, Cans/Slim 0.97 (also: Bottles 0.12)``: predicted labels, then the top-k others."""
    predicted = ", ".join(f"{c} {row['scores'][c]:.2f}" for c in row["labels"]) or "nothing predicted"
    others = ", ".join(f"{c} {s:.2f}" for c, s in row["scores"].items() if c not in row["labels"])
    return f"{predicted} (also: {others})" if others else predicted


def _classes(args: argparse.Namespace) -> int:
    path = args.encoded / "classes.json"
    if not path.exists():
        raise UserError(f"{path}: not found; run the encode stage first (dvc repro encode)")
    report = json.loads(path.read_text(encoding="utf-8"))
    counts = report["counts"]
    print(f"{'class':40s} {'train':>6s} {'val':>6s} {'test':>6s}")
    for name in report["classes"]:
        depth = name.count("/")
        print(
            f"{'  ' * depth + name.rsplit('/', 1)[-1]:40s} "
            + " ".join(f"{counts[s][name]:6d}" for s in ("train", "val", "test"))
        )
    return 0


def _report(args: argparse.Namespace) -> int:
    from yerbnet import report

    if not args.details.exists():
        raise UserError(f"{args.details}: not found; run the pipeline first (dvc repro)")
    results = json.loads(args.details.read_text(encoding="utf-8"))
    if "run" not in results:
        raise UserError(f"{args.details}: written by an older evaluate stage; rerun it (dvc repro evaluate)")
    print(
        report.header(results),
        report.overall_table(results),
        report.per_class_table(results, results["classes"]),
        sep="\n\n",
    )
    return 0


def _backbone(args: argparse.Namespace) -> int:
    from yerbnet.saved_model import save_backbone_weights

    name = save_backbone_weights(args.model_dir / "model.keras", args.out)
    print(f"{args.out}: weights of the {name} backbone; start a run from them with -S train.weights={args.out}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from yerbnet.export import export_bundle

    out = args.out or Path("export") / args.format
    model = export_bundle(args.model_dir, out, args.format)
    size = sum(f.stat().st_size for f in model.rglob("*")) if model.is_dir() else model.stat().st_size
    print(f"{out}: {model.name} ({size / 2**20:.1f} MiB) with classes.json, thresholds.json, hierarchy.json, README.md")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="yerbnet", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="print the products found in images")
    predict.add_argument("paths", nargs="*", type=Path, help="image files or folders (searched recursively)")
    predict.add_argument("--model-dir", type=Path, default=Path("models"))
    predict.add_argument(
        "--format",
        choices=("table", "json", "csv", "azure-jsonl"),
        default="table",
        help="azure-jsonl: pre-labels as Azure ML Data Labeling's JSON Lines export",
    )
    predict.add_argument("--top-k", type=int, default=0, help="also show the k best scores, predicted or not")
    predict.add_argument(
        "--threshold", type=float, help="one threshold for all classes (default: models/thresholds.json, else 0.5)"
    )
    predict.add_argument("--batch-size", type=int, default=32)
    predict.add_argument(
        "--sort",
        choices=("input", "uncertain"),
        default="input",
        help="uncertain: closest to a class threshold first (holds every result until the end)",
    )
    predict.add_argument("--html", type=Path, help="also write a contact sheet (one HTML file), least sure first")
    predict.add_argument(
        "--new", action="store_true", help="predict the scraped photos (--raw) that the labels export does not name"
    )
    predict.add_argument("--raw", type=Path, default=Path("data/raw"), help="with --new: scrape's output")
    predict.add_argument(
        "--export",
        type=Path,
        help="with --new: the labels export (default: labels.export in params.yaml, else data/raw/labels.csv)",
    )
    predict.add_argument(
        "--url-prefix",
        help="azure-jsonl: put before each photo's path, where the photos are "
        "uploaded (default: AmlDatastore://workspaceblobstore/)",
    )
    predict.set_defaults(run=_predict)
    export = commands.add_parser("export", help="write the model, its preprocessing and rules as a bundle to deploy")
    export.add_argument("--format", choices=FORMATS, required=True)
    export.add_argument("--out", type=Path, help="the bundle's folder (default: export/FORMAT)")
    export.add_argument("--model-dir", type=Path, default=Path("models"))
    export.set_defaults(run=_export)
    classes = commands.add_parser("classes", help="print the class tree with counts per split")
    classes.add_argument("--encoded", type=Path, default=Path("data/encoded"))
    classes.set_defaults(run=_classes)
    report = commands.add_parser("report", help="print the latest evaluation's metrics tables")
    report.add_argument(
        "--details",
        type=Path,
        default=Path("reports/evaluation.json"),
        help="the evaluate stage's full results (default: %(default)s)",
    )
    report.set_defaults(run=_report)
    backbone = commands.add_parser("backbone", help="save a trained model's backbone as a train.weights file")
    backbone.add_argument("out", type=Path, help="where to write it (ends in .weights.h5)")
    backbone.add_argument("--model-dir", type=Path, default=Path("models"))
    backbone.set_defaults(run=_backbone)
    args = parser.parse_args(argv)
    with reported_as_exit():
        return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())

"""encode: labels -> data/encoded/dataset.csv (multi-hot, split), classes.json and the class distribution plot."""

from pathlib import Path

from yerbnet.encode import encode, write_distribution, write_encoded
from yerbnet.errors import reported_as_exit
from yerbnet.labels.table import LABELS_TABLE, read_labels_table
from yerbnet.params import load_params
from yerbnet.sources.manifest import read_manifest

RAW = Path("data/raw")
LABELS = Path("data/labels")
OUT = Path("data/encoded")
REPORTS = Path("reports")

if __name__ == "__main__":
    with reported_as_exit():
        params = load_params()
        encoded, report = encode(
            read_labels_table(LABELS / LABELS_TABLE),
            read_manifest(RAW, columns=["file", "shortcode", "sha256"]),
            params.encode,
            params.seed,
        )
        write_encoded(encoded, report, OUT)
        write_distribution(report, REPORTS / "class_distribution.csv", REPORTS / "class_distribution.png")
        print(f"encode: {len(encoded.classes)} classes, images per split {report['images']}")
        if report["missing_from_splits"]:
            print(
                f"encode: {len(report['missing_from_splits'])} classes miss a split (too few posts to spread); "
                f"see missing_from_splits in {OUT / 'classes.json'}"
            )

"""encode: labels -> data/encoded/dataset.csv (multi-hot, split) and classes.json."""

from pathlib import Path

from yerbnet.encode import encode, write_encoded
from yerbnet.errors import reported_as_exit
from yerbnet.labels.importer import LABELS_TABLE, read_labels_table
from yerbnet.params import load_params
from yerbnet.sources import read_manifest

RAW = Path("data/raw")
LABELS = Path("data/labels")
OUT = Path("data/encoded")

if __name__ == "__main__":
    with reported_as_exit():
        params = load_params()
        encoded, report = encode(read_labels_table(LABELS / LABELS_TABLE), read_manifest(RAW),
                                 params.encode, params.seed)
        write_encoded(encoded, report, OUT)
        print(f"encode: {len(encoded.classes)} classes, images per split {report['images']}")

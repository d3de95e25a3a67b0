"""The canonical labels table (``data/labels/labels.csv``): import_labels writes it, encode reads it."""

from __future__ import annotations

import csv
import functools
import json
from pathlib import Path

import pandas as pd

from yerbnet import files
from yerbnet.errors import UserError

LABELS_TABLE = "labels.csv"


def write_labels_table(path: Path, labels: dict[str, list[str]]) -> None:
    """One row per image: its file name and a JSON list of its labels (written row by row: no copy of the table)."""
    with files.atomic_path(path) as tmp, tmp.open("w", encoding="utf-8", newline="") as out:
        rows = csv.writer(out, lineterminator="\n")
        rows.writerow(["image", "labels"])
        rows.writerows((image, json.dumps(given)) for image, given in labels.items())


def read_labels_table(path: Path) -> dict[str, list[str]]:
    if not path.exists():
        raise UserError(f"{path}: not found; run the import_labels stage first")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    loads = functools.cache(json.loads)  # images with the same labels share one list
    return {image: loads(cell) for image, cell in zip(table["image"], table["labels"])}

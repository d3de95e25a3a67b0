"""The canonical labels table (``data/labels/labels.csv``): import_labels writes it, encode reads it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from yerbnet import files
from yerbnet.errors import UserError

LABELS_TABLE = "labels.csv"


def write_labels_table(path: Path, labels: dict[str, list[str]]) -> None:
    """One row per image: its file name and a JSON list of its labels."""
    table = pd.DataFrame(
        {"image": list(labels), "labels": [json.dumps(v) for v in labels.values()]}, columns=["image", "labels"]
    )
    files.write_text(path, table.to_csv(index=False, lineterminator="\n"))


def read_labels_table(path: Path) -> dict[str, list[str]]:
    if not path.exists():
        raise UserError(f"{path}: not found; run the import_labels stage first")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    return {row.image: json.loads(row.labels) for row in table.itertuples()}

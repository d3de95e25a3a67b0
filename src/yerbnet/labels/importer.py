"""The import_labels stage: match an export's rows to scraped images, count what happened.

Output is the canonical labels table (one row per scraped image that has labels) and a
report of every row that did not make it, so nothing is dropped silently.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd

from yerbnet import files
from yerbnet.errors import UserError
from yerbnet.labels import azure

LABELS_TABLE = "labels.csv"
REPORT = "report.json"


def import_labels(export: Path, images: list[str], out_dir: Path) -> dict[str, int]:
    """Write ``labels.csv`` and ``report.json`` into ``out_dir``; return the report's counts."""
    if not export.exists():
        raise UserError(f"{export}: labels export not found (set labels.export in params.yaml)")
    rows = azure.read_csv_export(export)
    known = set(images)
    labels: dict[str, set[str]] = {}
    counts: Counter[str] = Counter(rows_read=len(rows))
    for url, row_labels in rows:
        name = azure.file_name_of(url)
        if name not in known:
            counts["rows_without_image"] += 1
            continue
        if name in labels:
            counts["duplicate_rows_merged"] += 1
        labels.setdefault(name, set()).update(row_labels)
    counts["matched_images"] = len(labels)
    counts["images_without_labels"] = sum(1 for name in images if not labels.get(name))
    if rows and not labels:
        raise UserError(
            f"{export}: none of its {len(rows)} rows names a scraped image; is it the export for this image set?"
        )
    table = pd.DataFrame(
        {"image": name, "labels": json.dumps(sorted(found))}
        for name, found in sorted(labels.items()) if found
    )
    files.write_text(out_dir / LABELS_TABLE, table.to_csv(index=False, lineterminator="\n"))
    report = {key: counts[key] for key in
              ("rows_read", "matched_images", "rows_without_image", "duplicate_rows_merged", "images_without_labels")}
    files.write_json(out_dir / REPORT, report)
    return report


def read_labels_table(path: Path) -> dict[str, list[str]]:
    if not path.exists():
        raise UserError(f"{path}: not found; run the import_labels stage first")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    return {row.image: json.loads(row.labels) for row in table.itertuples()}

"""Azure Machine Learning Data Labeling exports (image classification, multi-label).

The CSV export has a ``Url`` column (``AmlDatastore://<datastore>/<path>``) and a
``Label`` column holding the labels of one image. Exports differ in how that cell is
written, so reading is tolerant: one label, a JSON list, a Python-list string, or
labels joined by ``;`` or ``,``. A ``/`` always belongs to a (hierarchical) label.
"""

from __future__ import annotations

import ast
import csv
import io
import json
from pathlib import Path, PurePosixPath

from yerbnet import files
from yerbnet.errors import UserError

DATASTORE = "workspaceblobstore"
URL_COLUMNS = ("url", "image_url", "absolute_url")
LABEL_COLUMNS = ("label", "labels")


def datastore_url(file_name: str, folder: str = "yerbnet/images") -> str:
    """The URL Azure gives an image uploaded to the workspace's default datastore."""
    return f"AmlDatastore://{DATASTORE}/{folder}/{file_name}"


def file_name_of(url: str) -> str:
    """The part of a URL that survives every export form: its file name."""
    return PurePosixPath(url.split("?", 1)[0].replace("\\", "/")).name


def parse_label_cell(cell: str) -> list[str]:
    """Split one ``Label`` cell into labels, whatever list notation the export used."""
    text = cell.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            try:
                parsed = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise UserError(f"cannot read label list {cell!r}") from None
        return [str(label).strip() for label in parsed if str(label).strip()]
    separator = ";" if ";" in text else ","
    return [label.strip() for label in text.split(separator) if label.strip()]


def write_csv_export(path: Path, rows: list[tuple[str, list[str]]]) -> None:
    """Write (url, labels) rows the way the Data Labeling CSV export does."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["Url", "Label"])
    for url, labels in rows:
        writer.writerow([url, repr(list(labels))])
    files.write_text(path, buffer.getvalue())


def read_csv_export(path: Path) -> list[tuple[str, list[str]]]:
    """(url, labels) per data row of a CSV export; column names matched case-insensitively."""
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    columns = {name.strip().lower(): name for name in reader.fieldnames or []}
    url_col = next((columns[c] for c in URL_COLUMNS if c in columns), None)
    label_col = next((columns[c] for c in LABEL_COLUMNS if c in columns), None)
    if url_col is None or label_col is None:
        raise UserError(
            f"{path}: needs a URL column ({', '.join(URL_COLUMNS)}) and a label column "
            f"({', '.join(LABEL_COLUMNS)}); found: {', '.join(reader.fieldnames or []) or 'no header'}"
        )
    rows = []
    for line, row in enumerate(reader, start=2):
        try:
            rows.append((row[url_col] or "", parse_label_cell(row[label_col] or "")))
        except UserError as exc:
            raise UserError(f"{path}, line {line}: {exc}") from None
    return rows

"""Azure Machine Learning Data Labeling exports: what every form shares, and the CSV form.

Every form names an image by a URL (``AmlDatastore://<datastore>/<path>``,
``azureml://.../datastores/<ds>/paths/<path>``, an https blob URL or a bare path) that ends
with the path the photo was uploaded under; :mod:`yerbnet.labels.matching` finds the
scraped image it names.

The CSV export has a ``Url`` column and a ``Label`` column holding the labels of one
image. Exports differ in how that cell is written, so reading is tolerant: one label, a
JSON list, a Python-list string, or labels joined by ``;`` or ``,``. A ``/`` always
belongs to a (hierarchical) label.
"""

from __future__ import annotations

import ast
import csv
import functools
import io
import json
from collections.abc import Iterable
from pathlib import Path

from yerbnet import files
from yerbnet.errors import UserError

DATASTORE = "workspaceblobstore"
URL_COLUMNS = ("url", "image_url", "absolute_url")
LABEL_COLUMNS = ("label", "labels")
FORMS = (
    "COCO JSON (images, annotations, categories)",
    "JSON Lines (image_url and label per line)",
    "CSV (a Url and a Label column)",
)

Row = tuple[str, list[str]]  # (image URL or path, labels) as the export gives them


def datastore_url(file_name: str, folder: str = "yerbnet/images") -> str:
    """The URL Azure gives an image uploaded to the workspace's default datastore."""
    return f"AmlDatastore://{DATASTORE}/{folder}/{file_name}"


def read_text(path: Path) -> str:
    """An export's text: UTF-8 with or without a byte-order mark, and not empty."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{path}: not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}); save the export as UTF-8"
        ) from None
    if not text.strip():
        raise UserError(f"{path}: empty file; accepted forms: {'; '.join(FORMS)}")
    return text


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
        if not isinstance(parsed, (list, tuple)) or not all(isinstance(label, str) for label in parsed):
            raise UserError(
                f"label list {cell!r} holds {_first_non_string(parsed)!r}; allowed: a list of label strings"
            )
        return [label.strip() for label in parsed if label.strip()]
    separator = ";" if ";" in text else ","
    return [label.strip() for label in text.split(separator) if label.strip()]


def _first_non_string(parsed: object) -> object:
    if not isinstance(parsed, (list, tuple)):
        return parsed
    return next(label for label in parsed if not isinstance(label, str))


def write_csv_export(path: Path, rows: list[Row]) -> None:
    """Write (url, labels) rows the way the Data Labeling CSV export does."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["Url", "Label"])
    for url, labels in rows:
        writer.writerow([url, repr(list(labels))])
    files.write_text(path, buffer.getvalue())


def parse_csv(lines: Iterable[str], source: str) -> list[Row]:
    """(url, labels) per data row of a CSV export read line by line; column names matched case-insensitively."""
    reader = csv.DictReader(lines)
    columns = {name.strip().lower(): name for name in reader.fieldnames or []}
    url_col = next((columns[c] for c in URL_COLUMNS if c in columns), None)
    label_col = next((columns[c] for c in LABEL_COLUMNS if c in columns), None)
    if url_col is None or label_col is None:
        raise UserError(
            f"{source}: a CSV export needs a URL column ({', '.join(URL_COLUMNS)}) and a label column "
            f"({', '.join(LABEL_COLUMNS)}); found: {', '.join(reader.fieldnames or []) or 'no header'}. "
            f"Accepted forms: {'; '.join(FORMS)}"
        )
    rows = []
    parse = functools.cache(parse_label_cell)  # rows with the same cell share its list: 100,000 rows, a few hundred
    for row in reader:
        try:
            rows.append((row[url_col] or "", parse(row[label_col] or "")))
        except UserError as exc:
            raise UserError(f"{source}, line {reader.line_num}: {exc}") from None
    return rows

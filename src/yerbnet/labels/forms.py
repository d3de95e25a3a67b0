"""Which form an export is, told from its content (a suffix is often wrong or missing)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from yerbnet.errors import UserError
from yerbnet.labels import azure, coco, jsonl


@dataclass(frozen=True)
class Export:
    form: str  # "coco" | "jsonl" | "csv"
    rows: list[azure.Row]


def read_export(path: Path) -> Export:
    """Read any Azure ML Data Labeling export form into (url, labels) rows."""
    if not path.is_file():
        raise UserError(f"{path}: labels export not found (set labels.export in params.yaml)")
    text = azure.read_text(path)
    if text.lstrip()[:1] in ("{", "["):
        return _read_json(text, str(path))
    del text  # checked; the CSV form streams from the file rather than hold the text and a reader's copy
    with path.open(encoding="utf-8-sig", newline="") as lines:
        return Export("csv", azure.parse_csv(lines, str(path)))


def _read_json(text: str, source: str) -> Export:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # one object, then more: JSON Lines
            return Export("jsonl", jsonl.parse_jsonl(text, source))
        raise UserError(f"{source}, line {exc.lineno} column {exc.colno}: not valid JSON ({exc.msg})") from None
    if coco.is_coco(doc):
        return Export("coco", coco.parse_coco(doc, source))
    if jsonl.is_jsonl_record(doc):
        return Export("jsonl", jsonl.parse_jsonl(text, source))
    found = ", ".join(doc) if isinstance(doc, dict) else f"a JSON {type(doc).__name__}"
    raise UserError(
        f"{source}: JSON but not an export form I know (found: {found}); accepted forms: {'; '.join(azure.FORMS)}"
    )

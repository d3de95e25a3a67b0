"""Azure ML's labeled dataset (MLTable) form: JSON Lines, one image per line.

Each object has ``image_url`` (``azureml://subscriptions/.../datastores/<ds>/paths/<path>``
or ``AmlDatastore://<ds>/<path>``), optional ``image_details`` and ``label_confidence``,
and ``label``: one string, or a list for a multi-label project. A string is one label and
is never split (a label may hold any character but ``/`` has its own meaning).
"""

from __future__ import annotations

import json
from typing import Any

from yerbnet.errors import UserError
from yerbnet.labels.azure import Row


def is_jsonl_record(doc: Any) -> bool:
    return isinstance(doc, dict) and "image_url" in doc


def parse_jsonl(text: str, source: str) -> list[Row]:
    rows = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{source}, line {line_number}: not a JSON object ({exc.msg})") from None
        if not is_jsonl_record(record) or not isinstance(record["image_url"], str):
            found = ", ".join(record) if isinstance(record, dict) else type(record).__name__
            raise UserError(f"{source}, line {line_number}: needs a string 'image_url'; found: {found}")
        rows.append((record["image_url"], _labels(record.get("label"), source, line_number)))
    return rows


def _labels(value: Any, source: str, line_number: int) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list) and all(isinstance(label, str) for label in value):
        return [label for label in value if label.strip()]
    raise UserError(f"{source}, line {line_number}: 'label' = {value!r}; allowed: a string or a list of strings")

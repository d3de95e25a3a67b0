"""The contract every source writes into ``data/raw``, and that later stages read.

``images/`` holds the photos under instaloader's file names, ``posts.csv`` one row per
image (:class:`ImageRecord`). Later stages never learn where the images came from, except
for each image's ``original`` path: label exports name photos as the user uploaded them.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, fields
from datetime import datetime
from pathlib import Path

import pandas as pd
from PIL import Image

from yerbnet import files
from yerbnet.errors import UserError

IMAGES_DIR = "images"
MANIFEST = "posts.csv"
SYNTHETIC_EXPORT = "labels.csv"  # the synthetic source also writes the labels export a labeller would give
JPEG_QUALITY = 92


@dataclass(frozen=True)
class ImageRecord:
    """One row of ``posts.csv``."""

    file: str
    original: str  # path relative to the source folder, as the user named it (what a labels export names)
    shortcode: str
    date_utc: str
    carousel_index: int
    source: str
    width: int
    height: int
    sha256: str


def save_jpeg(
    image: Image.Image,
    path: Path,
    original: str,
    source: str,
    shortcode: str,
    date_utc: datetime | None,
    carousel_index: int,
) -> ImageRecord:
    """Encode ``image`` as JPEG, write it atomically and describe it for the manifest (no date: empty)."""
    return write_jpeg(jpeg_bytes(image), image.size, path, original, source, shortcode, date_utc, carousel_index)


def jpeg_bytes(image: Image.Image) -> bytes:
    """The stored form of every photo; apart from :func:`write_jpeg` so workers can encode in parallel."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def write_jpeg(
    data: bytes,
    size: tuple[int, int],
    path: Path,
    original: str,
    source: str,
    shortcode: str,
    date_utc: datetime | None,
    carousel_index: int,
) -> ImageRecord:
    """Write encoded JPEG ``data`` (of an image ``size`` = (width, height)) atomically; return its row."""
    files.write_bytes(path, data)
    return ImageRecord(
        file=path.name,
        original=original,
        shortcode=shortcode,
        date_utc=date_utc.strftime("%Y-%m-%dT%H:%M:%SZ") if date_utc else "",
        carousel_index=carousel_index,
        source=source,
        width=size[0],
        height=size[1],
        sha256=hashlib.sha256(data).hexdigest(),
    )


def write_manifest(path: Path, records: Iterable[ImageRecord]) -> None:
    """Write ``records``, already sorted by ``file``, one row at a time (a folder of any size streams through)."""
    with files.atomic_path(path) as tmp, tmp.open("w", encoding="utf-8", newline="") as out:
        rows = csv.writer(out, lineterminator="\n")
        rows.writerow(field.name for field in fields(ImageRecord))
        rows.writerows(astuple(record) for record in records)


def read_manifest(raw_dir: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """``posts.csv``, all columns or only ``columns`` (a stage that needs two need not hold nine per photo)."""
    path = raw_dir / MANIFEST
    if not path.exists():
        raise UserError(f"{path}: not found; run the scrape stage first (dvc repro scrape)")
    return pd.read_csv(
        path,
        dtype={"file": str, "original": str, "shortcode": str, "sha256": str},
        keep_default_na=False,
        usecols=columns,
    )

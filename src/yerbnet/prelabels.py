"""Labelling help: which scraped photos are new, which predictions are least sure, and pre-labels to review.

The weekly loop is scrape, predict the new photos, review them in Azure ML Data Labeling,
export, ``dvc repro``. Pre-labels are written in the form of Azure's labeled-dataset
export (JSON Lines) that import_labels reads, so a reviewed or an unreviewed file goes
through the same importer. The least sure photos come first, because a label where the
model hesitates teaches it the most.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from yerbnet import files
from yerbnet.classtree import taxonomy
from yerbnet.labels.forms import read_export
from yerbnet.labels.matching import Matcher
from yerbnet.predict import Prediction
from yerbnet.sources.images import PhotoLimits, UnusableImage, load_rgb
from yerbnet.sources.manifest import IMAGES_DIR, read_manifest

URL_PREFIX = "AmlDatastore://workspaceblobstore/"
THUMBNAIL_SIDE = 160
THUMBNAIL_QUALITY = 80


def new_images(raw_dir: Path, export: Path) -> dict[Path, PurePosixPath]:
    """The scraped photos that no row of ``export`` names, matched as import_labels matches them,
    each with the path it was uploaded under (posts.csv's ``original``): the name Azure knows it by.

    A row that could name several photos (one file name in several folders) marks none of
    them as seen: predicting a photo twice costs less than never labelling it.
    """
    manifest = read_manifest(raw_dir)
    originals = dict(zip(manifest["file"], manifest["original"]))
    matcher = Matcher(originals)
    seen = {matcher.match(url).file for url, _ in read_export(export).rows}
    return {
        raw_dir / IMAGES_DIR / name: PurePosixPath(originals[name]) for name in sorted(originals) if name not in seen
    }


def closest_call(prediction: Prediction, thresholds: dict[str, float]) -> str:
    """The class whose score is nearest its threshold: where the prediction is closest to changing."""
    return min(prediction.scores, key=lambda name: abs(prediction.scores[name] - thresholds[name]))


def margin(prediction: Prediction, thresholds: dict[str, float]) -> float:
    """How far the prediction is from changing: the smallest gap between a class's score and its threshold."""
    name = closest_call(prediction, thresholds)
    return abs(prediction.scores[name] - thresholds[name])


def most_uncertain_first(predictions: Iterable[Prediction], thresholds: dict[str, float]) -> list[Prediction]:
    """All predictions, smallest :func:`margin` first (ties keep their order); holds them all in memory."""
    return sorted(predictions, key=lambda p: margin(p, thresholds))


def most_specific(labels: list[str]) -> list[str]:
    """The labels that no other label descends from: what a labeller picks (the importer adds ancestors)."""
    inner = {ancestor for label in labels for ancestor in taxonomy.ancestors(label)}
    return [label for label in labels if label not in inner]


def relative_path(path: Path, folders: list[Path], uploads: dict[Path, PurePosixPath] | None = None) -> PurePosixPath:
    """The photo's upload path: as ``uploads`` names it (a scraped photo's original path), else its path
    inside the folder it was found in, else its file name."""
    if uploads and path in uploads:
        return uploads[path]
    for folder in folders:
        if path.is_relative_to(folder):
            return PurePosixPath(path.relative_to(folder).as_posix())
    return PurePosixPath(path.name)


def azure_jsonl_line(prediction: Prediction, relative: PurePosixPath, url_prefix: str = URL_PREFIX) -> str:
    """One line of Azure's labeled-dataset JSON Lines: the photo's datastore URL, labels and their scores."""
    labels = most_specific(prediction.labels)
    return json.dumps(
        {
            "image_url": url_prefix + relative.as_posix(),
            "label": labels,
            "label_confidence": [round(prediction.scores[label], 4) for label in labels],
        },
        ensure_ascii=False,
    )


def write_contact_sheet(
    path: Path,
    predictions: list[Prediction],
    thresholds: dict[str, float],
    limits: PhotoLimits,
    folders: list[Path],
    uploads: dict[Path, PurePosixPath],
) -> None:
    """One self-contained HTML page: a thumbnail (JPEG data URI) per photo with its labels and scores,
    least sure first, each named by :func:`relative_path`. Written card by card, so only the
    predictions are held in memory (the page takes about 5 KB per photo)."""
    ordered = most_uncertain_first(predictions, thresholds)
    with files.atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as page:
        page.write(_HEAD.format(count=len(ordered)))
        for prediction in ordered:
            page.write(_card(prediction, thresholds, limits, relative_path(prediction.path, folders, uploads)))
        page.write("</main></body></html>\n")


def _card(prediction: Prediction, thresholds: dict[str, float], limits: PhotoLimits, name: PurePosixPath) -> str:
    closest = closest_call(prediction, thresholds)
    labels = "".join(f"<li>{html.escape(c)} <b>{prediction.scores[c]:.2f}</b></li>" for c in prediction.labels)
    return (
        f"<figure>{_thumbnail(prediction.path, limits)}<figcaption>"
        f'<p class="name" title="{html.escape(str(prediction.path))}">{html.escape(str(name))}</p>'
        f"<ul>{labels or '<li class=none>nothing predicted</li>'}</ul>"
        f'<p class="margin">closest call: {html.escape(closest)} {prediction.scores[closest]:.2f} '
        f"vs threshold {thresholds[closest]:.2f}</p></figcaption></figure>\n"
    )


def _thumbnail(path: Path, limits: PhotoLimits) -> str:
    """An ``<img>`` with the photo, read as predict reads it, at most 160 px, inline as a data URI."""
    try:
        image = load_rgb(path.read_bytes(), limits.max_pixels, THUMBNAIL_SIDE)
    except (UnusableImage, OSError) as exc:  # changed or removed since it was predicted
        return f'<div class="missing">{html.escape(str(exc))}</div>'
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=THUMBNAIL_QUALITY)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img src="data:image/jpeg;base64,{data}" width="{image.width}" height="{image.height}" alt="">'


_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>yerbnet: {count} photos to review</title>
<style>
body {{ font-family: sans-serif; margin: 1em; background: #f4f4f4; }}
main {{ display: flex; flex-wrap: wrap; gap: 10px; }}
figure {{ margin: 0; width: 180px; padding: 8px; background: #fff; border: 1px solid #ccc; border-radius: 4px; }}
figure img, .missing {{ display: block; margin: 0 auto; max-width: 160px; max-height: 160px; }}
.missing {{ color: #a00; font-size: 12px; }}
.name {{ font-size: 11px; word-break: break-all; color: #555; margin: 4px 0; }}
ul {{ margin: 0; padding-left: 16px; font-size: 13px; }}
.none {{ color: #888; }}
.margin {{ font-size: 11px; color: #a60; margin: 4px 0 0; }}
</style></head><body>
<h1>{count} photos, least sure first</h1>
<p>Predicted labels with their scores; "closest call" is the class whose score is nearest its threshold.</p>
<main>
"""

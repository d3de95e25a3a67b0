"""Azure ML Data Labeling's "Export > COCO" for image classification.

Images carry ``id``, ``file_name`` (a bare name or a path inside the datastore),
``coco_url`` and ``absolute_url``; a classification annotation links an ``image_id`` to a
``category_id`` (one annotation per label of a multi-label image); category names are
slash-joined label paths. Sizes and dates are not needed, so their odd values (float or
``0.0`` widths) cannot stop an import.
"""

from __future__ import annotations

from typing import Any

from yerbnet.errors import UserError
from yerbnet.labels.azure import Row

URL_KEYS = ("file_name", "coco_url", "absolute_url")
KEYS = ("images", "annotations", "categories")


def is_coco(doc: Any) -> bool:
    return isinstance(doc, dict) and all(key in doc for key in KEYS)


def parse_coco(doc: dict, source: str) -> list[Row]:
    """One (url, labels) row per image, in the export's image order; an image without annotations has no labels."""
    for key in KEYS:
        if not isinstance(doc[key], list):
            raise UserError(f"{source}: COCO '{key}' must be a list, got {type(doc[key]).__name__}")
    urls = _image_urls(doc["images"], source)
    names = _category_names(doc["categories"], source)
    labels: dict[Any, list[str]] = {image_id: [] for image_id in urls}
    for i, annotation in enumerate(doc["annotations"]):
        image_id, category_id = (
            _get_id(annotation, "image_id", source, f"annotations[{i}]"),
            _get_id(annotation, "category_id", source, f"annotations[{i}]"),
        )
        if image_id not in urls:
            raise UserError(f"{source}: annotations[{i}] names image_id {image_id!r}, which no entry of 'images' has")
        if category_id not in names:
            raise UserError(
                f"{source}: annotations[{i}] names category_id {category_id!r}; categories have ids {_listed(names)}"
            )
        labels[image_id].append(names[category_id])
    return [(url, labels[image_id]) for image_id, url in urls.items()]


def _image_urls(images: list, source: str) -> dict[Any, str]:
    urls: dict[Any, str] = {}
    for i, image in enumerate(images):
        image_id = _get_id(image, "id", source, f"images[{i}]")
        url = next((image[k] for k in URL_KEYS if isinstance(image.get(k), str) and image[k].strip()), None)
        if url is None:
            raise UserError(f"{source}: images[{i}] (id {image_id!r}) has none of {', '.join(URL_KEYS)}")
        if image_id in urls:
            raise UserError(f"{source}: images[{i}] repeats image id {image_id!r}")
        urls[image_id] = url
    return urls


def _category_names(categories: list, source: str) -> dict[Any, str]:
    names = {}
    for i, category in enumerate(categories):
        name = _get(category, "name", source, f"categories[{i}]")
        if not isinstance(name, str):
            raise UserError(f"{source}: categories[{i}] name {name!r} is not a string")
        names[_get_id(category, "id", source, f"categories[{i}]")] = name
    return names


def _get(entry: Any, key: str, source: str, where: str) -> Any:
    if not isinstance(entry, dict) or key not in entry:
        raise UserError(f"{source}: {where} has no '{key}'")
    return entry[key]


def _get_id(entry: Any, key: str, source: str, where: str) -> int | str:
    """An id: COCO's are integers; a string is taken as given, anything else stops the import."""
    value = _get(entry, key, source, where)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise UserError(f"{source}: {where} '{key}' = {value!r}; allowed: an integer id (or a string)")
    return value


def _listed(names: dict) -> str:
    ids = [repr(k) for k in names]
    return ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "") if ids else "none"

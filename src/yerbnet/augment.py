"""The augment stage: square, resized images in TFRecord shards, with seeded copies for train.

The seed study doubled its training data by adding, for each image, a copy randomly
rotated and translated. Each copy's randomness comes from ``(seed, image name, copy)``,
so shards are byte-identical whatever the order or number of worker threads.

One augmentation is a :class:`Draw`, made from ``N_DRAWS`` uniforms by :func:`draw`;
the online path in :mod:`yerbnet.input_pipeline` maps its own uniforms through the same
function, so offline copies and on-the-fly ones follow the same distributions.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from yerbnet import files
from yerbnet.encode import SPLITS, Encoded
from yerbnet.errors import UserError
from yerbnet.parallel import ordered_map
from yerbnet.params import AugmentParams
from yerbnet.sources.images import fit_square

INDEX = "index.json"
JPEG_QUALITY = 95
N_DRAWS = 7  # uniforms per augmentation: turn, row shift, col shift, zoom, flip, brightness, contrast
IN_FLIGHT_PER_WORKER = 4  # images decoded ahead per worker: enough to keep them busy, bounded memory


@dataclass(frozen=True)
class Draw:
    """One augmentation's random values: floats offline (numpy), one per image online (TF)."""

    turns: Any  # rotation, fraction of a full turn (positive: counter-clockwise)
    shift_rows: Any  # translation, fraction of the side (positive: down)
    shift_cols: Any  # positive: right
    scale: Any  # zoom: > 1 enlarges the content
    mirror: Any  # -1 flips left-right, 1 keeps
    brightness: Any  # added to every channel, in pixel levels
    contrast: Any  # factor on the distance to each channel's mean


def draw(u: Any, cfg: AugmentParams) -> Draw:
    """Map uniforms in [0, 1) (last axis ``N_DRAWS``) to augmentations; arithmetic only, so numpy or TF."""

    def spread(k: int, half_width: float) -> Any:
        return (2 * u[..., k] - 1) * half_width

    return Draw(
        turns=spread(0, cfg.rotation),
        shift_rows=spread(1, cfg.translation),
        shift_cols=spread(2, cfg.translation),
        scale=1 + spread(3, cfg.zoom),
        mirror=1 - 2 * float(cfg.flip) * (u[..., 4] // 0.5),
        brightness=spread(5, cfg.brightness) * 255,
        contrast=1 + spread(6, cfg.contrast),
    )


def image_rng(seed: int, name: str, copy: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8")), copy])


def inverse_affine(d: Draw, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(M, t)`` with input ``M @ out + t`` in (row, col) pixel indices: undo shift, turn, zoom, flip."""
    angle = d.turns * 2 * math.pi
    cos, sin = math.cos(angle), math.sin(angle)
    matrix = np.diag([1.0, d.mirror]) @ np.array([[cos, sin], [-sin, cos]]) / d.scale
    centre = np.full(2, (size - 1) / 2)
    shift = np.array([d.shift_rows, d.shift_cols]) * size
    return matrix, centre - matrix @ (centre + shift)


def _fold(index: np.ndarray, n: int, fill_mode: str) -> np.ndarray:
    """Map indices outside ``[0, n)`` back inside, the way Keras' fill modes extend an image."""
    if fill_mode == "reflect":  # d c b a | a b c d | d c b a
        index = index % (2 * n)
        return np.where(index < n, index, 2 * n - 1 - index)
    if fill_mode == "wrap":  # a b c d | a b c d | a b c d
        return index % n
    return np.clip(index, 0, n - 1)  # nearest; constant blanks these afterwards


def warp(pixels: np.ndarray, matrix: np.ndarray, offset: np.ndarray, fill_mode: str) -> np.ndarray:
    """Bilinear resampling of ``pixels`` at ``matrix @ out + offset``, the outside filled per ``fill_mode``.

    Pillow's affine transform is fast and releases the GIL but only fills with a constant, so
    the part of the extended image the output reads from is gathered first.
    """
    height, width = pixels.shape[:2]
    corners = np.array([[r, c] for r in (-1, height) for c in (-1, width)], dtype=float)
    mapped = corners @ matrix.T + offset
    low = np.floor(mapped.min(axis=0)).astype(int) - 1
    high = np.ceil(mapped.max(axis=0)).astype(int) + 2
    rows, cols = np.arange(low[0], high[0]), np.arange(low[1], high[1])
    region = pixels.take(_fold(rows, height, fill_mode), axis=0).take(_fold(cols, width, fill_mode), axis=1)
    if fill_mode == "constant":
        region[(rows < 0) | (rows >= height)] = 0
        region[:, (cols < 0) | (cols >= width)] = 0
    # Pillow works in (x, y) = (col, row) with pixel centres at index + 0.5.
    xy_matrix = matrix[::-1, ::-1]
    xy_offset = (offset - low)[::-1] + 0.5 - xy_matrix @ [0.5, 0.5]
    coefficients = (*xy_matrix[0], xy_offset[0], *xy_matrix[1], xy_offset[1])
    out = Image.fromarray(region).transform(
        (width, height), Image.Transform.AFFINE, coefficients, resample=Image.Resampling.BILINEAR
    )
    return np.asarray(out)


def photometric(pixels: np.ndarray, d: Draw) -> np.ndarray:
    """Brightness then contrast (per-channel mean, as ``tf.image.adjust_contrast``), clipped to [0, 255]."""
    if d.brightness == 0 and d.contrast == 1:
        return pixels
    shifted = pixels.astype(np.float32) + d.brightness
    mean = shifted.mean(axis=(0, 1))
    return np.clip(np.rint((shifted - mean) * d.contrast + mean), 0, 255).astype(np.uint8)


def augment_image(pixels: np.ndarray, rng: np.random.Generator, cfg: AugmentParams) -> np.ndarray:
    """One random augmentation of a square image: geometry (turn, shift, zoom, flip), then colour."""
    d = draw(rng.random(N_DRAWS), cfg)
    matrix, offset = inverse_affine(d, pixels.shape[0])
    return photometric(warp(pixels, matrix, offset, cfg.fill_mode), d)


def jpeg_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _example(image: bytes, target: np.ndarray, image_id: str) -> bytes:
    feature = {
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image])),
        "label": tf.train.Feature(float_list=tf.train.FloatList(value=target.tolist())),
        "id": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image_id.encode("utf-8")])),
    }
    # deterministic: protobuf map order otherwise varies between processes, and so would the shard bytes
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


def copies_per_image(targets: np.ndarray, cfg: AugmentParams) -> np.ndarray:
    """Augmented copies of each train image: ``cfg.copies``, more for images of rare classes.

    With ``cfg.repeat_threshold`` t, repeat-factor sampling (Gupta et al., LVIS, 2019): a class
    in a fraction f < t of the train images has the factor sqrt(t / f), an image takes the
    largest factor among its classes, and its original plus copies are scaled by it. Rare
    flavours then get more, differently augmented views instead of only a larger loss weight.
    """
    base = np.full(len(targets), cfg.copies, dtype=int)
    if cfg.repeat_threshold is None:
        return base
    frequency = targets.mean(axis=0)
    class_factor = np.sqrt(cfg.repeat_threshold / np.maximum(frequency, 1e-12)).clip(min=1.0)
    image_factor = np.where(targets > 0, class_factor, 1.0).max(axis=1, initial=1.0)
    return np.rint((1 + base) * image_factor).astype(int) - 1


def _records(
    name: str, target: np.ndarray, copies: int, images_dir: Path, cfg: AugmentParams, image_size: int, seed: int
) -> list[bytes]:
    """The original and ``copies`` augmented versions of one image, as serialized examples."""
    path = images_dir / name
    try:
        with Image.open(path) as image:
            base = fit_square(image, image_size, cfg.resize)
    except (OSError, UnidentifiedImageError) as exc:
        raise UserError(f"{path}: cannot decode image ({exc}); scrape should have rejected it") from None
    records = [_example(jpeg_bytes(base), target, name)]
    for copy in range(1, copies + 1):
        pixels = augment_image(base, image_rng(seed, name, copy), cfg)
        records.append(_example(jpeg_bytes(pixels), target, f"{name}#aug{copy}"))
    return records


def augment_dataset(
    encoded: Encoded,
    images_dir: Path,
    out_dir: Path,
    cfg: AugmentParams,
    image_size: int,
    seed: int,
    workers: int | None = None,
) -> dict:
    """Write every split's shards and the index; return the index.

    The index also records ``cfg``: the input pipeline reads the online augmentation from it.
    """
    index: dict = {
        "image_size": image_size,
        "classes": encoded.classes,
        "augment": dataclasses.asdict(cfg),
        "splits": {},
    }
    workers = workers or os.cpu_count() or 1
    # The index is written last: without it, shards left by an interrupted run are no data set.
    (out_dir / INDEX).unlink(missing_ok=True)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for split in SPLITS:
            rows = encoded.frame[encoded.frame["split"] == split]
            if rows.empty:
                raise UserError(f"split '{split}' has no images; add data or change encode.*_fraction")
            targets = encoded.targets(split)
            copies = copies_per_image(targets, cfg) if split == "train" else np.zeros(len(rows), dtype=int)
            work = partial(_records, images_dir=images_dir, cfg=cfg, image_size=image_size, seed=seed)
            jobs = ordered_map(pool, work, rows["image"], targets, copies, window=workers * IN_FLIGHT_PER_WORKER)
            total = int((1 + copies).sum())
            with tqdm(total=total, desc=f"augment {split}", unit="img") as progress:
                shards = write_shards(_counted(jobs, progress), total, out_dir, split, cfg.shard_size)
            index["splits"][split] = {
                "images": len(rows),
                "records": total,
                "images_per_class": targets.sum(axis=0).astype(int).tolist(),
                "positives": (targets * (1 + copies)[:, None]).sum(axis=0).astype(int).tolist(),  # records
                "shards": shards,
            }
    files.write_json(out_dir / INDEX, index)
    return index


def _counted(jobs: Iterable[list[bytes]], progress: tqdm) -> Iterator[bytes]:
    """Flatten each image's records, ticking the bar per record written (so img/s counts outputs)."""
    for records in jobs:
        yield from records
        progress.update(len(records))


def write_shards(records: Iterator[bytes], total: int, out_dir: Path, split: str, shard_size: int) -> list[dict]:
    """Stream records into ``<split>-NNNNN-of-MMMMM.tfrecord`` files, each renamed into place when full."""
    count = max(1, math.ceil(total / shard_size))
    out_dir.mkdir(parents=True, exist_ok=True)
    shards = []
    for number in range(count):
        name = f"{split}-{number:05d}-of-{count:05d}.tfrecord"
        written = 0
        with files.atomic_path(out_dir / name) as tmp:
            with tf.io.TFRecordWriter(str(tmp)) as writer:
                for record in records:
                    writer.write(record)
                    written += 1
                    if written == shard_size:
                        break
        shards.append({"file": name, "records": written})
    return shards

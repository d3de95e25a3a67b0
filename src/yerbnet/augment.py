"""The augment stage: square, resized images in TFRecord shards, with seeded copies for train.

The seed study doubled its training data by adding, for each image, a copy randomly
rotated and translated. Each copy's randomness comes from ``(seed, image name, copy)``,
so shards are byte-identical whatever the order or number of worker threads.
"""

from __future__ import annotations

import io
import math
import os
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image, UnidentifiedImageError
from scipy import ndimage
from tqdm import tqdm

from yerbnet import files
from yerbnet.encode import SPLITS, Encoded
from yerbnet.errors import UserError
from yerbnet.params import AugmentParams

INDEX = "index.json"
JPEG_QUALITY = 95
# Keras' fill modes, as scipy.ndimage names them.
_SCIPY_MODES = {"nearest": "nearest", "constant": "grid-constant", "reflect": "reflect", "wrap": "grid-wrap"}


def fit_square(image: Image.Image, size: int, resize: str) -> np.ndarray:
    """Resize to ``size`` x ``size`` keeping the aspect: pad with black, or crop the centre."""
    image = image.convert("RGB")
    side = max(image.size) if resize == "pad" else min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    square = image.crop((left, top, left + side, top + side))  # crop outside the image pads with black
    return np.asarray(square.resize((size, size), Image.Resampling.BILINEAR))


def random_affine(pixels: np.ndarray, rng: np.random.Generator, rotation: float,
                  translation: float, fill_mode: str) -> np.ndarray:
    """Rotate by up to ``rotation`` of a full turn and shift by up to ``translation`` of the side."""
    angle = rng.uniform(-rotation, rotation) * 2 * math.pi
    height, width = pixels.shape[:2]
    shift = rng.uniform(-translation, translation, size=2) * (height, width)
    cos, sin = math.cos(angle), math.sin(angle)
    # affine_transform maps output coordinates to input ones: the inverse of rotate-then-shift.
    inverse = np.array([[cos, sin, 0], [-sin, cos, 0], [0, 0, 1]])
    centre = np.array([(height - 1) / 2, (width - 1) / 2, 0])
    offset = centre - inverse @ (centre + np.array([shift[0], shift[1], 0]))
    out = ndimage.affine_transform(pixels, inverse, offset=offset, order=1,
                                   mode=_SCIPY_MODES[fill_mode], cval=0.0)
    return out.astype(np.uint8)


def image_rng(seed: int, name: str, copy: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8")), copy])


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
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _records(name: str, target: np.ndarray, images_dir: Path, cfg: AugmentParams,
             image_size: int, copies: int, seed: int) -> list[bytes]:
    """The original and ``copies`` augmented versions of one image, as serialized examples."""
    path = images_dir / name
    try:
        with Image.open(path) as image:
            base = fit_square(image, image_size, cfg.resize)
    except (OSError, UnidentifiedImageError) as exc:
        raise UserError(f"{path}: cannot decode image ({exc}); scrape should have rejected it") from None
    records = [_example(jpeg_bytes(base), target, name)]
    for copy in range(1, copies + 1):
        pixels = random_affine(base, image_rng(seed, name, copy), cfg.rotation, cfg.translation, cfg.fill_mode)
        records.append(_example(jpeg_bytes(pixels), target, f"{name}#aug{copy}"))
    return records


def augment_dataset(encoded: Encoded, images_dir: Path, out_dir: Path, cfg: AugmentParams,
                    image_size: int, seed: int, workers: int | None = None) -> dict:
    """Write every split's shards and the index; return the index."""
    index: dict = {"image_size": image_size, "classes": encoded.classes, "splits": {}}
    workers = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for split in SPLITS:
            rows = encoded.frame[encoded.frame["split"] == split]
            if rows.empty:
                raise UserError(f"split '{split}' has no images; add data or change encode.*_fraction")
            copies = cfg.copies if split == "train" else 0
            targets = encoded.targets(split)
            work = partial(_records, images_dir=images_dir, cfg=cfg, image_size=image_size,
                           copies=copies, seed=seed)
            jobs = pool.map(work, rows["image"], targets)
            progress = tqdm(jobs, total=len(rows), desc=f"augment {split}", unit="img")
            total = len(rows) * (1 + copies)
            shards = write_shards((r for records in progress for r in records), total,
                                  out_dir, split, cfg.shard_size)
            positives = (targets.sum(axis=0) * (1 + copies)).astype(int).tolist()
            index["splits"][split] = {"images": len(rows), "records": total,
                                      "positives": positives, "shards": shards}
    files.write_json(out_dir / INDEX, index)
    return index


def write_shards(records: Iterator[bytes], total: int, out_dir: Path, split: str,
                 shard_size: int) -> list[dict]:
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

"""The tf.data input pipeline that train, evaluate and predict read the shards through.

Images come out as float32 in [0, 255]; each model rescales them itself (see
:mod:`yerbnet.models`), so no caller has to know an architecture's input range.
"""

from __future__ import annotations

import json
from pathlib import Path

import tensorflow as tf

from yerbnet.augment import INDEX
from yerbnet.errors import UserError

SHUFFLE_BUFFER = 2048


def read_index(shards_dir: Path) -> dict:
    path = shards_dir / INDEX
    if not path.exists():
        raise UserError(f"{path}: not found; run the augment stage first")
    return json.loads(path.read_text(encoding="utf-8"))


def split_dataset(shards_dir: Path, split: str, batch_size: int, *, shuffle: bool = False,
                  seed: int = 0, with_ids: bool = False) -> tf.data.Dataset:
    """Batches of ``(images, targets)`` (and ``ids`` when asked) streamed from one split's shards."""
    index = read_index(shards_dir)
    info = index["splits"].get(split)
    if not info or info["records"] == 0:
        raise UserError(f"{shards_dir}: split '{split}' has no records")
    size, classes = index["image_size"], len(index["classes"])
    features = {
        "image": tf.io.FixedLenFeature([], tf.string),
        "label": tf.io.FixedLenFeature([classes], tf.float32),
        "id": tf.io.FixedLenFeature([], tf.string),
    }

    def parse(record: tf.Tensor) -> tuple[tf.Tensor, ...]:
        example = tf.io.parse_single_example(record, features)
        image = tf.io.decode_jpeg(example["image"], channels=3)
        image = tf.cast(tf.ensure_shape(image, [size, size, 3]), tf.float32)
        if with_ids:
            return image, example["label"], example["id"]
        return image, example["label"]

    paths = [str(shards_dir / shard["file"]) for shard in info["shards"]]
    data = tf.data.TFRecordDataset(paths, num_parallel_reads=tf.data.AUTOTUNE)
    # A known length lets Keras show progress and stops its "ran out of data" warning.
    data = data.apply(tf.data.experimental.assert_cardinality(info["records"]))
    if shuffle:
        data = data.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
    data = data.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)

"""The tf.data input pipeline that train, evaluate and predict read the shards through.

Images come out as float32 in [0, 255]; each model rescales them itself (see
:mod:`yerbnet.models`: [-1, 1] for the from-scratch CNN, MobileNetV2 and Xception,
EfficientNet's own preprocessing), so no caller has to know an architecture's input range.

Nothing is held beyond the shuffle buffer and a few prefetched batches: memory does not
grow with the data set.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numpy as np
import tensorflow as tf

from yerbnet.augment import INDEX, N_DRAWS, Draw, draw
from yerbnet.errors import UserError
from yerbnet.params import AugmentParams

SHUFFLE_BUFFER = 2048


def read_index(shards_dir: Path) -> dict:
    path = shards_dir / INDEX
    if not path.exists():
        raise UserError(f"{path}: not found; run the augment stage first")
    return json.loads(path.read_text(encoding="utf-8"))


def online_params(index: dict) -> AugmentParams | None:
    """The augmentation to apply on the fly, when the augment stage ran with ``augment.online: true``."""
    cfg = AugmentParams(**index["augment"]) if "augment" in index else None
    return cfg if cfg is not None and cfg.online else None


def split_dataset(
    shards_dir: Path,
    split: str,
    batch_size: int,
    *,
    epochs: range | None = None,
    seed: int = 0,
    with_ids: bool = False,
    augment: bool = False,
) -> tf.data.Dataset:
    """Batches of ``(images, targets)`` (and ``ids`` when asked) streamed from one split's shards.

    Without ``epochs``: one pass in file order. With ``epochs``: one shuffled pass per epoch
    number, end to end, each pass's order drawn from ``(seed, epoch)`` alone, so a run
    resumed at epoch 7 gets the batches an uninterrupted run gets there (fit it with
    ``steps_per_epoch``). ``augment``: shuffled passes also apply ``augment.online``'s random
    ops (recorded in the index by the augment stage, so DVC reruns training when they change).
    """
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
    online = online_params(index) if augment else None

    def one_pass(epoch: int | None) -> tf.data.Dataset:
        data = tf.data.TFRecordDataset(paths, num_parallel_reads=tf.data.AUTOTUNE)
        # A known length lets Keras show progress and stops its "ran out of data" warning.
        data = data.apply(tf.data.experimental.assert_cardinality(info["records"]))
        if epoch is not None:
            data = data.shuffle(SHUFFLE_BUFFER, seed=epoch_seed(seed, epoch), reshuffle_each_iteration=False)
        data = data.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).batch(batch_size)
        if epoch is not None and online is not None:
            data = _augmented(data, online, epoch_seed(seed, epoch))
        return data

    if epochs is None:
        data = one_pass(None)
    else:
        # Concatenated passes (not shuffle + repeat): tf.data's reshuffle counter restarts
        # with every new process, so epoch k's order would depend on where a run started.
        data = functools.reduce(tf.data.Dataset.concatenate, [one_pass(epoch) for epoch in epochs])
    return data.prefetch(tf.data.AUTOTUNE)


def epoch_seed(seed: int, epoch: int) -> int:
    """A seed for one epoch's shuffle and online draws, independent of every other epoch's."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def _augmented(data: tf.data.Dataset, cfg: AugmentParams, seed: int) -> tf.data.Dataset:
    """Each batch paired with its own stateless seed, drawn from ``seed``."""
    seeds = tf.data.Dataset.random(seed=seed).batch(2)

    def apply(batch: tuple[tf.Tensor, ...], pair: tf.Tensor) -> tuple[tf.Tensor, ...]:
        return (augment_batch(batch[0], pair, cfg), *batch[1:])

    return tf.data.Dataset.zip(data, seeds).map(apply, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def augment_batch(images: tf.Tensor, seed: tf.Tensor, cfg: AugmentParams) -> tf.Tensor:
    """The offline copies' random ops, one draw per image, on float32 [0, 255] batches."""
    uniforms = tf.random.stateless_uniform([tf.shape(images)[0], N_DRAWS], seed=seed)
    return apply_draws(images, draw(uniforms, cfg), cfg.fill_mode)


def apply_draws(images: tf.Tensor, d: Draw, fill_mode: str) -> tf.Tensor:
    """Geometry with Keras' fill modes (the op Keras' own random layers use), then colour."""
    size = images.shape[1]
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=_transforms(d, size),
        output_shape=tf.shape(images)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode=fill_mode.upper(),
    )
    shifted = warped + tf.reshape(d.brightness, [-1, 1, 1, 1])
    mean = tf.reduce_mean(shifted, axis=[1, 2], keepdims=True)
    contrasted = (shifted - mean) * tf.reshape(d.contrast, [-1, 1, 1, 1]) + mean
    return tf.clip_by_value(contrasted, 0.0, 255.0)


def _transforms(d: Draw, size: int) -> tf.Tensor:
    """:func:`yerbnet.augment.inverse_affine` per image, as the op's (x, y) = (col, row) rows."""
    angle = tf.convert_to_tensor(d.turns, tf.float32) * 2 * math.pi
    cos, sin = tf.cos(angle) / d.scale, tf.sin(angle) / d.scale
    m00, m01, m10, m11 = cos, sin, -d.mirror * sin, d.mirror * cos
    centre = (size - 1) / 2
    rows, cols = centre + d.shift_rows * size, centre + d.shift_cols * size
    t_rows = centre - (m00 * rows + m01 * cols)
    t_cols = centre - (m10 * rows + m11 * cols)
    zeros = tf.zeros_like(angle)
    return tf.stack([m11, m10, t_cols, m01, m00, t_rows, zeros, zeros], axis=1)

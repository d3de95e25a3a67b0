"""The train stage: compile, fit with imbalance-aware validation metrics, keep the best epoch."""

from __future__ import annotations

import math
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from dvclive import Live
from dvclive.keras import DVCLiveCallback

from yerbnet import files
from yerbnet.models import build_model
from yerbnet.params import TrainParams
from yerbnet.pipeline import read_index, split_dataset

MONITOR = "val_pr_auc"
CLASSES_FILE = "classes.json"  # written beside the model, so predict needs nothing from data/


@keras.saving.register_keras_serializable(package="yerbnet")
class WeightedBinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy whose positive term is weighted per class.

    Keras' ``class_weight`` weights whole samples by one class, which does not fit
    multi-hot targets; rare classes instead get ``pos_weight = negatives / positives``.
    """

    def __init__(self, pos_weight: list[float], name: str = "weighted_bce", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.pos_weight = list(pos_weight)

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        eps = keras.config.epsilon()
        y_pred = keras.ops.clip(y_pred, eps, 1 - eps)
        weight = keras.ops.convert_to_tensor(self.pos_weight, dtype=y_pred.dtype)
        loss = -(weight * y_true * keras.ops.log(y_pred) + (1 - y_true) * keras.ops.log(1 - y_pred))
        return keras.ops.mean(loss, axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "pos_weight": self.pos_weight}


def positive_weights(train_counts: list[int], train_images: int, cap: float) -> list[float]:
    """``negatives / positives`` per class, clipped to ``[1, cap]`` (a class with no positives gets ``cap``)."""
    counts = np.asarray(train_counts, dtype=np.float64)
    ratio = np.divide(train_images - counts, counts, out=np.full_like(counts, cap), where=counts > 0)
    return np.clip(ratio, 1.0, cap).round(4).tolist()


def make_loss(cfg: TrainParams, train_counts: list[int], train_images: int) -> keras.losses.Loss:
    if cfg.loss == "weighted_bce":
        return WeightedBinaryCrossentropy(positive_weights(train_counts, train_images, cfg.max_pos_weight))
    if cfg.loss == "focal":
        return keras.losses.BinaryFocalCrossentropy(gamma=2.0)
    return keras.losses.BinaryCrossentropy()


def make_optimizer(cfg: TrainParams, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The optimizer, its learning rate optionally decayed to zero along a cosine over all epochs."""
    rate = cfg.learning_rate
    if cfg.lr_schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=cfg.epochs * steps_per_epoch)
    optimizers = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}
    return optimizers[cfg.optimizer](learning_rate=rate)


class ThroughputLogger(keras.callbacks.Callback):
    """Adds epoch time, training images per second and the learning rate to each epoch's logs."""

    def __init__(self, train_records: int) -> None:
        super().__init__()
        self.train_records = train_records

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            seconds = time.perf_counter() - self.started
            logs["epoch_seconds"] = seconds
            logs["images_per_second"] = self.train_records / seconds
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


def train(cfg: TrainParams, shards_dir: Path, model_path: Path, live_dir: Path, seed: int) -> keras.Model:
    """Fit a model on the train shards, monitor validation PR-AUC, save the best epoch's model."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    index = read_index(shards_dir)
    classes = index["classes"]
    train_data = split_dataset(shards_dir, "train", cfg.batch_size, shuffle=True, seed=seed)
    val_data = split_dataset(shards_dir, "val", cfg.batch_size)

    model = build_model(cfg, index["image_size"], len(classes))
    model.compile(
        optimizer=make_optimizer(cfg, math.ceil(index["splits"]["train"]["records"] / cfg.batch_size)),
        loss=make_loss(cfg, index["splits"]["train"]["positives"], index["splits"]["train"]["records"]),
        metrics=[
            keras.metrics.AUC(curve="PR", multi_label=True, num_labels=len(classes), name="pr_auc"),
            keras.metrics.F1Score(average="macro", threshold=0.5, name="macro_f1"),
            keras.metrics.BinaryAccuracy(name="binary_accuracy"),
        ],
    )
    live = Live(str(live_dir), dvcyaml=False, save_dvc_exp=False)
    callbacks = [
        ThroughputLogger(index["splits"]["train"]["records"]),
        keras.callbacks.EarlyStopping(monitor=MONITOR, mode="max", patience=cfg.patience,
                                      restore_best_weights=True, verbose=1),
        DVCLiveCallback(live=live),
    ]
    model.fit(train_data, validation_data=val_data, epochs=cfg.epochs, callbacks=callbacks, verbose=2)
    with files.atomic_path(model_path) as tmp:
        model.save(tmp)
    files.write_json(model_path.parent / CLASSES_FILE, {"classes": classes})
    return model


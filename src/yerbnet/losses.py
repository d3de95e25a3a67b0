"""The training losses: plain, class-weighted and focal binary cross-entropy for multi-hot targets."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from yerbnet.params import TrainParams


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
    """``train.loss``; ``weighted_bce`` weights each class by its train split's imbalance."""
    if cfg.loss == "weighted_bce":
        return WeightedBinaryCrossentropy(positive_weights(train_counts, train_images, cfg.max_pos_weight))
    if cfg.loss == "focal":
        return keras.losses.BinaryFocalCrossentropy(gamma=2.0)
    return keras.losses.BinaryCrossentropy()

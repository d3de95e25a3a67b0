"""Keras callbacks of the train stage: what each epoch logs, and what makes a resumed run repeat an
uninterrupted one (the early-stopping snapshot is in ``yerbnet.resume``)."""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf
from dvclive.keras import DVCLiveCallback
from sklearn.metrics import recall_score

from yerbnet import metrics
from yerbnet.classtree.taxonomy import NO_YERB


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


class ValidationRecall(keras.callbacks.Callback):
    """Recall of "No Yerb" and of the products on the validation split, added to each epoch's logs.

    A model that answers "No Yerb" for everything (the seed's gap_dense run) scores well
    on accuracy; these two numbers side by side show it at once.
    """

    def __init__(self, data: tf.data.Dataset, classes: list[str]) -> None:
        super().__init__()
        self.data = data
        self.targets = np.concatenate([labels.numpy() for _, labels in data]).astype(np.int8)
        self.no_yerb = classes.index(NO_YERB) if NO_YERB in classes else None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        # Not model.predict: under MultiWorkerMirroredStrategy it fails (see yerbnet.distributed).
        scores = np.concatenate(
            [keras.ops.convert_to_numpy(self.model(images, training=False)) for images, _ in self.data]
        )
        predicted = metrics.binarize(scores, 0.5)
        products = [c for c in range(self.targets.shape[1]) if c != self.no_yerb and self.targets[:, c].any()]
        logs["val_product_recall"] = float(
            recall_score(self.targets[:, products], predicted[:, products], average="macro", zero_division=0.0)
        )
        if self.no_yerb is not None:
            logs["val_no_yerb_recall"] = float(
                recall_score(self.targets[:, self.no_yerb], predicted[:, self.no_yerb], zero_division=0.0)
            )


class EpochStepDVCLive(DVCLiveCallback):
    """DVCLive's callback with the step pinned to the Keras epoch, across phases and resumes.

    On resume dvclive continues from the step in its metrics file, but cannot tell "one
    epoch logged" from "none" (both read as step 0). The caller ends the Live run: one run
    spans both fine-tuning phases.
    """

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.live.step = epoch

    def on_train_end(self, logs: dict | None = None) -> None:
        pass


class EpochSeededRandomness(keras.callbacks.Callback):
    """Restart each random layer's stream (dropout's) at a point given by the epoch number.

    Keras saves no SeedGenerator state with the weights, so a resumed run would otherwise
    draw other dropout masks than the uninterrupted run drew for the same epoch.
    """

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        for variable in self.model.variables:
            if variable.path.endswith("seed_generator_state"):
                variable.assign([int(variable.numpy()[0]), epoch * 2**24])

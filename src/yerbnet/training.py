"""The train stage: compile, fit with imbalance-aware validation metrics, keep the best epoch."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from dvclive import Live
from dvclive.keras import DVCLiveCallback
from sklearn.metrics import recall_score

from yerbnet import files, metrics
from yerbnet.errors import UserError
from yerbnet.models import build_model
from yerbnet.params import TrainParams
from yerbnet.pipeline import read_index, split_dataset
from yerbnet.taxonomy import NO_YERB

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
        predicted = metrics.binarize(self.model.predict(self.data, verbose=0), 0.5)
        products = [c for c in range(self.targets.shape[1]) if c != self.no_yerb and self.targets[:, c].any()]
        logs["val_product_recall"] = float(recall_score(self.targets[:, products], predicted[:, products],
                                                        average="macro", zero_division=0.0))
        if self.no_yerb is not None:
            logs["val_no_yerb_recall"] = float(recall_score(self.targets[:, self.no_yerb],
                                                            predicted[:, self.no_yerb], zero_division=0.0))


class EpochStepDVCLive(DVCLiveCallback):
    """DVCLive's callback with the step pinned to the Keras epoch.

    On resume dvclive continues from the step in its metrics file, but cannot tell "one
    epoch logged" from "none" (both read as step 0); the epoch BackupAndRestore restores is
    the right step.
    """

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.live.step = epoch


def fingerprint(cfg: TrainParams, index: dict, seed: int) -> str:
    """What a backup must match to be resumed: the train params, the seed and the data's index."""
    identity = json.dumps({"train": asdict(cfg), "seed": seed, "index": index}, sort_keys=True)
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]


def backup_dir_for(backup_root: Path, key: str) -> tuple[Path, bool]:
    """This run's backup folder, and whether it holds an interrupted run to resume.

    Backups of other params or data (a changed class list, say) are removed: resuming
    them would mix two experiments.
    """
    if backup_root.exists():
        for stale in backup_root.iterdir():
            if stale.name != key:
                print(f"train: the backup in {stale} is for other params or data; starting fresh")
                shutil.rmtree(stale)
    backup = backup_root / key
    resumed = backup.exists() and any(backup.iterdir())
    if resumed:
        print(f"train: resuming the interrupted run from {backup}")
    return backup, resumed


def distribution_strategy(name: str) -> tf.distribute.Strategy:
    """``mirrored`` copies the model to every local GPU; ``none`` is TensorFlow's default (one device)."""
    return tf.distribute.MirroredStrategy() if name == "mirrored" else tf.distribute.get_strategy()


def train(cfg: TrainParams, shards_dir: Path, model_path: Path, live_dir: Path, backup_root: Path,
          seed: int) -> keras.Model:
    """Fit a model on the train shards and save the epoch that scored best on ``train.monitor``.

    An interrupted run (kill, Ctrl-C) leaves a backup in ``backup_root``; the next run with
    the same params and data resumes from the last finished epoch.
    """
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    index = read_index(shards_dir)
    classes, records = index["classes"], index["splits"]["train"]["records"]
    strategy = distribution_strategy(cfg.distribute)
    train_data = split_dataset(shards_dir, "train", cfg.batch_size, shuffle=True, seed=seed, augment=True)
    val_data = split_dataset(shards_dir, "val", cfg.batch_size)
    with strategy.scope():
        model = build_model(cfg, index["image_size"], len(classes))
        model.compile(
            optimizer=make_optimizer(cfg, math.ceil(records / cfg.batch_size)),
            loss=make_loss(cfg, index["splits"]["train"]["positives"], records),
            metrics=[
                keras.metrics.AUC(curve="PR", multi_label=True, num_labels=len(classes), name="pr_auc"),
                keras.metrics.F1Score(average="macro", threshold=0.5, name="macro_f1"),
                keras.metrics.BinaryAccuracy(name="binary_accuracy"),
            ],
        )
    backup, resumed = backup_dir_for(backup_root, fingerprint(cfg, index, seed))
    stopper = keras.callbacks.EarlyStopping(monitor=cfg.monitor, mode="min" if cfg.monitor.endswith("loss") else "max",
                                            patience=cfg.patience, restore_best_weights=True, verbose=1)
    callbacks = [
        ValidationRecall(val_data, classes),  # first: later callbacks read the logs it adds
        ThroughputLogger(records),
        keras.callbacks.TerminateOnNaN(),
        stopper,
        keras.callbacks.BackupAndRestore(str(backup)),
        EpochStepDVCLive(live=Live(str(live_dir), dvcyaml=False, save_dvc_exp=False, resume=resumed)),
    ]
    history = model.fit(train_data, validation_data=val_data, epochs=cfg.epochs, callbacks=callbacks, verbose=2)
    with files.atomic_path(model_path) as tmp:
        model.save(tmp)
    # predict must square photos the way augment did for training
    files.write_json(model_path.parent / CLASSES_FILE,
                     {"classes": classes, "resize": index.get("augment", {}).get("resize", "pad")})
    if np.isnan(history.history["loss"]).any():
        raise UserError(f"train: the loss became NaN; kept the model of epoch {stopper.best_epoch + 1} in "
                        f"{model_path}; lower train.learning_rate or use another train.loss")
    return model


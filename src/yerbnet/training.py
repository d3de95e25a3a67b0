"""The train stage: compile, fit with imbalance-aware validation metrics, keep the best epoch."""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import keras
import numpy as np
import tensorflow as tf
from dvclive import Live
from dvclive.keras import DVCLiveCallback
from sklearn.metrics import recall_score

from yerbnet import files, metrics, resume
from yerbnet.distributed import distribution_strategy, fit_across_workers
from yerbnet.errors import UserError
from yerbnet.models import build_model, set_backbone_trainable
from yerbnet.params import TrainParams
from yerbnet.pipeline import read_index, split_dataset
from yerbnet.saved_model import ModelInfo, write_info
from yerbnet.sources.images import PhotoLimits
from yerbnet.taxonomy import NO_YERB

SPACE_PER_WEIGHT_BYTE = 7
SPACE_MARGIN = 32 * 2**20  # dvclive logs, plots, file system slack



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


def make_optimizer(cfg: TrainParams, learning_rate: float, steps: int) -> keras.optimizers.Optimizer:
    """The optimizer, its learning rate optionally decayed to zero along a cosine over ``steps``."""
    rate = learning_rate
    if cfg.lr_schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)
    optimizers = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}
    return optimizers[cfg.optimizer](learning_rate=rate)


def make_metrics(num_classes: int) -> list[keras.metrics.Metric]:
    return [
        keras.metrics.AUC(curve="PR", multi_label=True, num_labels=num_classes, name="pr_auc"),
        keras.metrics.F1Score(average="macro", threshold=0.5, name="macro_f1"),
        keras.metrics.BinaryAccuracy(name="binary_accuracy"),
    ]


@dataclass(frozen=True)
class Phase:
    """A stretch of epochs with one trainable set and one learning rate."""

    name: str
    epochs: range
    learning_rate: float
    backbone_layers: int | Literal["all"] | None  # trainable backbone layers from the top; None: not pretrained


def plan_phases(cfg: TrainParams) -> list[Phase]:
    """From scratch: one phase. Pretrained: the head on a frozen backbone, then fine-tuning.

    Training a new head on top of a trainable pretrained backbone sends large gradients
    through it and destroys what it learned; the Keras transfer-learning guide warms the
    head up first, then fine-tunes at a much lower learning rate.
    """
    if cfg.weights is None:
        return [Phase("train", range(cfg.epochs), cfg.learning_rate, None)]
    warm = min(cfg.warmup_epochs, cfg.epochs)
    phases = [Phase("warmup", range(warm), cfg.learning_rate, 0)] if warm else []
    if warm < cfg.epochs:
        phases.append(Phase("fine_tune", range(warm, cfg.epochs), cfg.fine_tune_learning_rate, cfg.unfreeze_layers))
    return phases


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
        scores = np.concatenate([keras.ops.convert_to_numpy(self.model(images, training=False)) for images, _ in self.data])
        predicted = metrics.binarize(scores, 0.5)
        products = [c for c in range(self.targets.shape[1]) if c != self.no_yerb and self.targets[:, c].any()]
        logs["val_product_recall"] = float(recall_score(self.targets[:, products], predicted[:, products],
                                                        average="macro", zero_division=0.0))
        if self.no_yerb is not None:
            logs["val_no_yerb_recall"] = float(recall_score(self.targets[:, self.no_yerb],
                                                            predicted[:, self.no_yerb], zero_division=0.0))


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


def compile_for(model: keras.Model, phase: Phase, cfg: TrainParams, loss: keras.losses.Loss, steps: int,
                strategy: tf.distribute.Strategy) -> None:
    """Set the phase's trainable layers and compile with its learning rate (Keras fixes the trainable set here)."""
    if phase.backbone_layers is not None:
        set_backbone_trainable(model, phase.backbone_layers)
    with strategy.scope():
        model.compile(optimizer=make_optimizer(cfg, phase.learning_rate, len(phase.epochs) * steps),
                      loss=loss, metrics=make_metrics(model.output_shape[-1]))


def train(cfg: TrainParams, shards_dir: Path, model_path: Path, live_dir: Path, backup_root: Path,
          seed: int, limits: PhotoLimits) -> keras.Model:
    """Fit a model on the train shards and save the epoch that scored best on ``train.monitor``.

    ``limits`` (scrape's) go beside the model with the class list, for predict to apply.

    An interrupted run (kill, Ctrl-C) leaves a backup in ``backup_root``; the next run with
    the same params and data resumes from the last finished epoch and ends with the same
    model an uninterrupted run would have.
    """
    strategy = distribution_strategy(cfg.distribute)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    index = read_index(shards_dir)
    classes, records = index["classes"], index["splits"]["train"]["records"]
    with strategy.scope():
        model = build_model(cfg, index["image_size"], len(classes))
    loss = make_loss(cfg, index["splits"]["train"]["positives"], records)
    weight_bytes = sum(int(np.prod(w.shape)) * 4 for w in model.weights)
    # snapshot (weights, optimizer's two moments, best epoch's), final save and its temporary copy
    files.require_free_space(backup_root, SPACE_PER_WEIGHT_BYTE * weight_bytes + SPACE_MARGIN, "training this model")
    backup, snapshot = resume.open_backup(backup_root, resume.fingerprint(cfg, index, seed), live_dir)
    val_data = split_dataset(shards_dir, "val", cfg.batch_size)
    steps = math.ceil(records / cfg.batch_size)
    phases = plan_phases(cfg)
    resumed_phase = [phase.name for phase in phases].index(snapshot["phase"]) if snapshot else 0
    diverged = False
    with Live(str(live_dir), dvcyaml=False, save_dvc_exp=False, resume=snapshot is not None) as live:
        for number, phase in enumerate(phases[resumed_phase:], start=resumed_phase):
            own = snapshot if number == resumed_phase else None
            compile_for(model, phase, cfg, loss, steps, strategy)
            stopper = resume.ResumableEarlyStopping(backup, phase.name, own, live_dir, monitor=cfg.monitor,
                                                    mode="min" if cfg.monitor.endswith("loss") else "max",
                                                    patience=cfg.patience)
            stopper.set_model(model)
            first = stopper.restore(strategy) if own else phase.epochs.start
            if stopper.finished(phase.epochs.stop):  # interrupted between its last epoch and the next phase
                stopper.end_phase()
                continue
            callbacks = [
                ValidationRecall(val_data, classes),  # first: later callbacks read the logs it adds
                ThroughputLogger(records),
                EpochSeededRandomness(),
                keras.callbacks.TerminateOnNaN(),
                EpochStepDVCLive(live=live),
                stopper,  # after dvclive: its snapshot holds this epoch's log
            ]
            train_data = split_dataset(shards_dir, "train", cfg.batch_size, epochs=range(first, phase.epochs.stop),
                                       seed=seed, augment=True)
            span = {"initial_epoch": first, "epochs": phase.epochs.stop, "steps_per_epoch": steps}
            if cfg.distribute == "multi_worker":
                history = fit_across_workers(model, strategy, train_data, validation_data=val_data, callbacks=callbacks,
                                             **span)
            else:
                history = model.fit(train_data, validation_data=val_data, shuffle=False, callbacks=callbacks, verbose=2,
                                    **span)
            diverged = bool(np.isnan(history.history["loss"]).any())
            if diverged:
                break
    with files.atomic_path(model_path) as tmp:
        model.save(tmp)
    # predict must square photos the way augment did for training
    write_info(model_path.parent, ModelInfo(classes, index["augment"]["resize"], limits, epoch=stopper.best_epoch + 1))
    shutil.rmtree(backup, ignore_errors=True)  # the run ended: nothing left to resume
    if diverged:
        raise UserError(f"train: the loss became NaN; kept the model of epoch {stopper.best_epoch + 1} in "
                        f"{model_path}; lower train.learning_rate or use another train.loss")
    return model

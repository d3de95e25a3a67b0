"""The train stage: build the model, fit it phase by phase on the shards, keep the best epoch.

The steps of :func:`train`: seed everything, build the model, check the disk, open (or resume)
the run's backup, fit each phase (:func:`fit_phase`), save the kept epoch beside the class list.
The loss is in ``yerbnet.losses``, the callbacks in ``yerbnet.callbacks``, the snapshots that make
a run resumable in ``yerbnet.resume``.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import keras
import numpy as np
import tensorflow as tf

from dvclive import Live
from yerbnet import files, resume
from yerbnet.callbacks import EpochSeededRandomness, EpochStepDVCLive, ThroughputLogger, ValidationRecall
from yerbnet.classtree.decisions import Hierarchy
from yerbnet.distributed import distribution_strategy, fit_across_workers
from yerbnet.errors import UserError
from yerbnet.input_pipeline import read_index, split_dataset
from yerbnet.losses import make_loss
from yerbnet.models import build_model, set_backbone_trainable
from yerbnet.params import TrainParams
from yerbnet.saved_model import ModelInfo, write_info
from yerbnet.sources.images import PhotoLimits

SPACE_PER_WEIGHT_BYTE = 7
SPACE_MARGIN = 32 * 2**20  # dvclive logs, plots, file system slack


def make_optimizer(cfg: TrainParams, learning_rate: float, steps: int) -> keras.optimizers.Optimizer:
    """The optimizer, its learning rate optionally decayed to zero along a cosine over ``steps``.

    Keras applies ``weight_decay`` apart from the gradient (AdamW's decoupled decay), for every optimizer.
    """
    rate = learning_rate
    if cfg.lr_schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)
    optimizers = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}
    return optimizers[cfg.optimizer](learning_rate=rate, weight_decay=cfg.weight_decay or None)


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


def compile_for(
    model: keras.Model,
    phase: Phase,
    cfg: TrainParams,
    loss: keras.losses.Loss,
    steps: int,
    strategy: tf.distribute.Strategy,
) -> None:
    """Set the phase's trainable layers and compile with its learning rate (Keras fixes the trainable set here)."""
    if phase.backbone_layers is not None:
        set_backbone_trainable(model, phase.backbone_layers)
    with strategy.scope():
        model.compile(
            optimizer=make_optimizer(cfg, phase.learning_rate, len(phase.epochs) * steps),
            loss=loss,
            metrics=make_metrics(model.output_shape[-1]),
        )


@dataclass(frozen=True)
class Run:
    """What every phase of one training run shares."""

    cfg: TrainParams
    model: keras.Model
    strategy: tf.distribute.Strategy
    shards_dir: Path
    seed: int
    index: dict  # the shards' index.json
    records: int  # train records per epoch (images and their augmented copies)
    loss: keras.losses.Loss
    val_data: tf.data.Dataset
    backup: Path
    live_dir: Path

    @property
    def classes(self) -> list[str]:
        return self.index["classes"]

    @property
    def steps(self) -> int:
        return math.ceil(self.records / self.cfg.batch_size)


def train(
    cfg: TrainParams,
    shards_dir: Path,
    model_path: Path,
    live_dir: Path,
    backup_root: Path,
    seed: int,
    limits: PhotoLimits,
) -> keras.Model:
    """Fit a model on the train shards and save the epoch that scored best on ``train.monitor``.

    ``limits`` (scrape's) go beside the model with the class list, for predict to apply.

    An interrupted run (kill, Ctrl-C) leaves a backup in ``backup_root``; the next run with
    the same params and data resumes from the last finished epoch and ends with the same
    model an uninterrupted run would have.
    """
    run, snapshot = start_run(cfg, shards_dir, live_dir, backup_root, seed)
    stopper, diverged = fit_phases(run, snapshot)
    kept = stopper.best_epoch + 1
    with files.atomic_path(model_path) as tmp:
        run.model.save(tmp)
    # predict must square photos the way augment did for training
    write_info(model_path.parent, ModelInfo(run.classes, run.index["augment"]["resize"], limits, epoch=kept))
    shutil.rmtree(run.backup, ignore_errors=True)  # the run ended: nothing left to resume
    if diverged:
        raise UserError(
            f"train: the loss became NaN; kept the model of epoch {kept} in {model_path}; "
            "lower train.learning_rate or use another train.loss"
        )
    return run.model


def start_run(
    cfg: TrainParams, shards_dir: Path, live_dir: Path, backup_root: Path, seed: int
) -> tuple[Run, dict | None]:
    """Seed everything, build the model, check the disk and open the backup; also the snapshot an
    interrupted run of these params and data left (None: start afresh)."""
    strategy = distribution_strategy(cfg.distribute)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    index = read_index(shards_dir)
    train_split = index["splits"]["train"]
    with strategy.scope():
        parents = Hierarchy.of(index["classes"]).parent_columns()
        model = build_model(cfg, index["image_size"], len(index["classes"]), parents)
    require_space(model, backup_root)
    backup, snapshot = resume.open_backup(backup_root, resume.fingerprint(cfg, index, seed), live_dir)
    loss = make_loss(cfg, train_split["positives"], train_split["records"])
    val_data = split_dataset(shards_dir, "val", cfg.batch_size)
    run = Run(cfg, model, strategy, shards_dir, seed, index, train_split["records"], loss, val_data, backup, live_dir)
    return run, snapshot


def fit_phases(run: Run, snapshot: dict | None) -> tuple[resume.ResumableEarlyStopping, bool]:
    """Every phase from the one ``snapshot`` was taken in, under one dvclive run; the last phase's early
    stopping (which knows the kept epoch) and whether the loss became NaN."""
    phases = plan_phases(run.cfg)
    resumed = [phase.name for phase in phases].index(snapshot["phase"]) if snapshot else 0
    with Live(str(run.live_dir), dvcyaml=False, save_dvc_exp=False, resume=snapshot is not None) as live:
        for number, phase in enumerate(phases[resumed:], start=resumed):
            stopper, diverged = fit_phase(run, phase, snapshot if number == resumed else None, live)
            if diverged:
                break
    return stopper, diverged


def require_space(model: keras.Model, backup_root: Path) -> None:
    """Stop before the first epoch when the snapshots (weights, the optimizer's two moments, the best
    epoch's), the final save and its temporary copy would not fit."""
    weight_bytes = sum(int(np.prod(w.shape)) * 4 for w in model.weights)
    files.require_free_space(backup_root, SPACE_PER_WEIGHT_BYTE * weight_bytes + SPACE_MARGIN, "training this model")


def fit_phase(run: Run, phase: Phase, snapshot: dict | None, live: Live) -> tuple[resume.ResumableEarlyStopping, bool]:
    """Fit one phase from its start, or from ``snapshot`` (an interrupted run's); return its early
    stopping (which knows the kept epoch) and whether the loss became NaN."""
    compile_for(run.model, phase, run.cfg, run.loss, run.steps, run.strategy)
    stopper = resume.ResumableEarlyStopping(
        run.backup,
        phase.name,
        snapshot,
        run.live_dir,
        monitor=run.cfg.monitor,
        mode="min" if run.cfg.monitor.endswith("loss") else "max",
        patience=run.cfg.patience,
    )
    stopper.set_model(run.model)
    first = stopper.restore(run.strategy) if snapshot else phase.epochs.start
    if stopper.finished(phase.epochs.stop):  # interrupted between its last epoch and the next phase
        stopper.end_phase()
        return stopper, False
    callbacks = [
        ValidationRecall(run.val_data, run.classes),  # first: later callbacks read the logs it adds
        ThroughputLogger(run.records),
        EpochSeededRandomness(),
        keras.callbacks.TerminateOnNaN(),
        EpochStepDVCLive(live=live),
        stopper,  # after dvclive: its snapshot holds this epoch's log
    ]
    train_data = split_dataset(
        run.shards_dir, "train", run.cfg.batch_size, epochs=range(first, phase.epochs.stop), seed=run.seed, augment=True
    )
    span = {"initial_epoch": first, "epochs": phase.epochs.stop, "steps_per_epoch": run.steps}
    if run.cfg.distribute == "multi_worker":
        history = fit_across_workers(
            run.model, run.strategy, train_data, validation_data=run.val_data, callbacks=callbacks, **span
        )
    else:
        history = run.model.fit(
            train_data, validation_data=run.val_data, shuffle=False, callbacks=callbacks, verbose=2, **span
        )
    return stopper, bool(np.isnan(history.history["loss"]).any())

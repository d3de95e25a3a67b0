"""Resuming an interrupted train stage exactly where it stopped.

After every epoch the train stage leaves in its backup folder all that the next epoch
depends on: model and optimizer weights, the best epoch's weights, the early-stopping
counters, and the dvclive log so far (DVC deletes a stage's outputs, the log among them,
before it reruns the stage). Together with per-epoch data order
(:func:`yerbnet.input_pipeline.split_dataset`) and per-epoch dropout seeds
(:class:`yerbnet.train.EpochSeededRandomness`), a resumed run ends with the same
weights and log as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from yerbnet import files
from yerbnet.params import TrainParams

STATE = "state.json"  # written last; names the weight files it belongs with


def fingerprint(cfg: TrainParams, index: dict, seed: int) -> str:
    """What a backup must match to be resumed: the train params, the seed and the data's index."""
    identity = json.dumps({"train": asdict(cfg), "seed": seed, "index": index}, sort_keys=True)
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]


def open_backup(backup_root: Path, key: str, live_dir: Path) -> tuple[Path, dict | None]:
    """This run's backup folder, and the snapshot of an interrupted run to resume (or ``None``).

    Backups of other params or data (a changed class list, say) are removed: resuming
    them would mix two experiments. Resuming puts the snapshot's dvclive log back in
    ``live_dir``, without rows of an epoch that ran after the snapshot.
    """
    if backup_root.exists():
        for stale in backup_root.iterdir():
            if stale.name != key:
                print(f"train: the backup in {stale} is for other params or data; starting fresh")
                shutil.rmtree(stale)
    backup = backup_root / key
    state = backup / STATE
    if not state.exists():
        return backup, None
    snapshot = json.loads(state.read_text(encoding="utf-8"))
    shutil.rmtree(live_dir, ignore_errors=True)
    shutil.copytree(backup / snapshot["log"], live_dir)
    print(f"train: resuming the interrupted run from {backup} at epoch {snapshot['epoch'] + 1}")
    return backup, snapshot


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Early stopping on the best epoch that snapshots everything a resumed run needs, every epoch.

    ``snapshot``: the state an interrupted run of this phase left, or ``None`` to start afresh.
    Keras' own ``BackupAndRestore`` keeps the weights and the epoch but not this
    callback's counters and best weights, so a resumed run could stop at another epoch.
    """

    def __init__(self, folder: Path, phase: str, snapshot: dict | None, live_dir: Path, **kwargs) -> None:
        super().__init__(restore_best_weights=True, verbose=1, **kwargs)
        self.folder, self.phase, self.snapshot, self.live_dir = folder, phase, snapshot, live_dir

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        if self.snapshot is not None:
            self.wait, self.best, self.best_epoch = (self.snapshot[k] for k in ("wait", "best", "best_epoch"))
            if self.snapshot["best_weights"]:
                with np.load(self.folder / self.snapshot["best_weights"]) as saved:
                    self.best_weights = [saved[f"arr_{i}"] for i in range(len(saved.files))]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        self.folder.mkdir(parents=True, exist_ok=True)
        weights = f"epoch-{epoch + 1}.weights.h5"
        self.model.save_weights(self.folder / weights)
        best = f"best-{self.best_epoch + 1}.npz" if self.best_weights is not None else None
        if best and self.best_epoch == epoch:
            np.savez(self.folder / best, *self.best_weights)
        log = f"dvclive-{epoch + 1}"
        shutil.rmtree(self.folder / log, ignore_errors=True)  # a copy a kill cut short, before a resume
        shutil.copytree(self.live_dir, self.folder / log)
        files.write_json(
            self.folder / STATE,
            {
                "phase": self.phase,
                "epoch": epoch + 1,
                "stopped": bool(self.model.stop_training),
                "wait": self.wait,
                "best": None if self.best is None else float(self.best),
                "best_epoch": self.best_epoch,
                "weights": weights,
                "best_weights": best,
                "log": log,
            },
        )
        for old in self.folder.iterdir():
            if old.is_dir() and old.name != log:
                shutil.rmtree(old)
            elif old.is_file() and old.name not in (STATE, weights, best):
                old.unlink()

    def restore(self, strategy: tf.distribute.Strategy) -> int:
        """Load the snapshot's model and optimizer weights into the compiled model; the epoch to go on from."""
        with strategy.scope():
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(self.folder / self.snapshot["weights"])
        return self.snapshot["epoch"]

    def end_phase(self) -> None:
        """What the end of ``fit`` would have done for a phase that had run all its epochs: keep its best one."""
        self.on_train_begin()
        self.on_train_end()

    def finished(self, phase_end: int) -> bool:
        """Whether the snapshot's phase had already ended: all its epochs run, or stopped early."""
        return self.snapshot is not None and (self.snapshot["stopped"] or self.snapshot["epoch"] >= phase_end)

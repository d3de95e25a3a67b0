"""Input pipeline images/s (no model) against what training consumes, and training time through it.

    .venv/bin/python benchmarks/input_pipeline.py [--shards data/augmented] [--epochs 2] [--rounds 2]

1. Delivered: batches of the train split as training reads them (shuffle, decode,
   batch, prefetch), with and without ``augment.online``, iterated with no model.
2. Consumed: the default architecture (params.yaml ``train``) fitting on the same
   images held in memory as tensors, then fitting through the pipeline; each fit is timed
   after a first, untimed epoch (graph building). Rounds alternate the order so that a
   change in load from other processes hits both.
Writes only under a temporary folder (an index copy with ``online: true`` for step 1).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

from yerbnet.input_pipeline import INDEX, read_index, split_dataset
from yerbnet.models import build_model
from yerbnet.params import load_params

ROOT = Path(__file__).resolve().parents[1]


def delivered(shards: Path, batch_size: int, epochs: int, augment: bool) -> float:
    """Images/s out of the train pipeline, over ``epochs`` passes after one warm-up pass."""
    data = split_dataset(shards, "train", batch_size, epochs=range(1), seed=0, augment=augment)
    for _ in data:
        pass
    started, images = time.perf_counter(), 0
    for _ in range(epochs):
        for batch in data:
            images += int(batch[0].shape[0])
    return images / (time.perf_counter() - started)


def online_copy(shards: Path, folder: Path) -> Path:
    """The same shards (linked), with an index asking for online augmentation."""
    index = read_index(shards)
    index.setdefault("augment", {}).update(online=True)
    for shard in index["splits"]["train"]["shards"]:
        (folder / shard["file"]).symlink_to((shards / shard["file"]).resolve())
    (folder / INDEX).write_text(json.dumps(index), encoding="utf-8")
    return folder


def fit_seconds(source: str, shards: Path, epochs: int) -> float:
    """Wall time of ``epochs`` training epochs after an untimed first one."""
    params = load_params(ROOT / "params.yaml")
    cfg, index = params.train, read_index(shards)
    keras.utils.set_random_seed(0)
    model = build_model(cfg, index["image_size"], len(index["classes"]))
    model.compile(keras.optimizers.Adam(cfg.learning_rate), "binary_crossentropy")
    data = split_dataset(shards, "train", cfg.batch_size, epochs=range(1), seed=0)
    if source == "memory":
        images, targets = (np.concatenate(parts) for parts in zip(*((x.numpy(), y.numpy()) for x, y in data)))
        model.fit(images, targets, batch_size=cfg.batch_size, epochs=1, verbose=0)
        started = time.perf_counter()
        model.fit(images, targets, batch_size=cfg.batch_size, epochs=epochs, verbose=0)
    else:
        model.fit(data, epochs=1, verbose=0)
        started = time.perf_counter()
        model.fit(data, epochs=epochs, verbose=0)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=Path, default=ROOT / "data/augmented")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    params = load_params(ROOT / "params.yaml")
    records = read_index(args.shards)["splits"]["train"]["records"]
    with tempfile.TemporaryDirectory() as tmp:
        plain = delivered(args.shards, params.train.batch_size, args.epochs, augment=False)
        online = delivered(online_copy(args.shards, Path(tmp)), params.train.batch_size, args.epochs, augment=True)
    print(
        f"delivered: {plain:.0f} img/s, with online augmentation {online:.0f} img/s (load {os.getloadavg()[0]:.2f})",
        flush=True,
    )
    times: dict[str, list[float]] = {"memory": [], "pipeline": []}
    for round_ in range(args.rounds):
        order = ("memory", "pipeline") if round_ % 2 == 0 else ("pipeline", "memory")
        for source in order:
            times[source].append(fit_seconds(source, args.shards, args.epochs))
            print(
                f"round {round_ + 1} {source}: {times[source][-1]:.1f} s for {args.epochs} epochs "
                f"({records * args.epochs / times[source][-1]:.0f} img/s, load {os.getloadavg()[0]:.2f})",
                flush=True,
            )
    memory, pipeline = statistics.median(times["memory"]), statistics.median(times["pipeline"])
    consumed = records * args.epochs / memory
    print(
        f"median: training consumes {consumed:.0f} img/s; pipeline delivers {plain / consumed:.1f}x that "
        f"({online / consumed:.1f}x with online augmentation); training through the pipeline takes "
        f"{pipeline / memory - 1:+.1%} vs in-memory tensors (target within 5%); tf {tf.__version__}"
    )


if __name__ == "__main__":
    main()

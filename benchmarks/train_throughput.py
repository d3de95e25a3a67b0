"""Training images per second for each architecture, on random batches held in memory.

    python benchmarks/train_throughput.py [--image-size 128] [--steps 10] [--cnn-fine-convs 0] [arch ...]

The first steps (graph building) are excluded; the figure is the steady-state rate of
`model.fit` on this machine, with no input pipeline in the way.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from yerbnet.models import BACKBONES, build_model
from yerbnet.params import load_params

ROOT = Path(__file__).resolve().parents[1]


def images_per_second(
    arch: str, image_size: int, batch_size: int, steps: int, mixed_precision: bool = False, cnn_fine_convs: int = 0
) -> float:
    cfg = replace(
        load_params(ROOT / "params.yaml").train,
        architecture=arch,
        batch_size=batch_size,
        mixed_precision=mixed_precision,
        cnn_fine_convs=cnn_fine_convs,
    )
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (batch_size * steps, image_size, image_size, 3)).astype(np.float32)
    targets = (rng.random((batch_size * steps, 20)) < 0.1).astype(np.float32)
    model = build_model(cfg, image_size, 20)
    model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
    model.fit(images[: 2 * batch_size], targets[: 2 * batch_size], batch_size=batch_size, verbose=0)
    started = time.perf_counter()
    model.fit(images, targets, batch_size=batch_size, epochs=1, verbose=0)
    return len(images) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("architectures", nargs="*", default=list(BACKBONES))
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--cnn-fine-convs", type=int, default=0, help="simple_cnn's train.cnn_fine_convs")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
        f"image_size {args.image_size}, batch {args.batch_size}, cnn_fine_convs {args.cnn_fine_convs}"
    )
    print("| architecture | train images/s |\n|---|---:|")
    for arch in args.architectures:
        rate = images_per_second(arch, args.image_size, args.batch_size, args.steps, cnn_fine_convs=args.cnn_fine_convs)
        print(f"| {arch} | {rate:.1f} |", flush=True)


if __name__ == "__main__":
    main()

"""Does the input pipeline keep an accelerator fed? Delivered images/s against a train step's consumption.

    .venv/bin/python benchmarks/gpu_input.py [--steps 10] [--mixed-precision] [--json out.json]

For each (architecture, resolution) of the study's GPU runs, xception at 256 px and
efficientnet_b0 at 224 px: shards of the default data set (data/raw + data/encoded, the
augment params of params.yaml) are written at that resolution into a temporary folder;
``delivered`` is the train split through :func:`yerbnet.input_pipeline.split_dataset` with no
model (benchmarks/input_pipeline.py's measure), ``consumed`` the model's train steps on
batches held in memory (benchmarks/train_throughput.py's), on whatever device TensorFlow
picks. The pipeline decodes with ``num_parallel_calls=tf.data.AUTOTUNE``, which tf.data
sizes from the host's cores. Target: delivered at least 2x consumed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import tensorflow as tf
from input_pipeline import delivered
from train_throughput import images_per_second

from yerbnet.augment import augment_dataset
from yerbnet.encode import read_encoded
from yerbnet.params import load_params

ROOT = Path(__file__).resolve().parents[1]
RUNS = (("xception", 256), ("efficientnet_b0", 224))
TARGET = 2.0


def device() -> str:
    """The accelerator TensorFlow will train on, in words."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return f"CPU ({os.cpu_count()} cores)"
    return tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)


def shards_at(size: int, folder: Path) -> Path:
    """The default data set's shards at ``size`` px, written once into ``folder``."""
    params = load_params(ROOT / "params.yaml")
    out = folder / f"shards-{size}"
    augment_dataset(
        read_encoded(ROOT / "data/encoded"), ROOT / "data/raw/images", out, params.augment, size, params.seed
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10, help="timed train steps per model")
    parser.add_argument("--epochs", type=int, default=2, help="timed passes over the train split")
    parser.add_argument("--mixed-precision", action="store_true", help="train.mixed_precision for the models")
    parser.add_argument("--json", type=Path, help="write the rows to this file")
    args = parser.parse_args()
    where = device()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, device {where}, tf {tf.__version__}, "
        f"batch {args.batch_size}, mixed precision {args.mixed_precision}",
        flush=True,
    )
    print(
        "| model | px | device | delivered img/s | consumed img/s | delivered / consumed | load |\n"
        "|---|---:|---|---:|---:|---:|---:|",
        flush=True,
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch, size in RUNS:
            supply = delivered(shards_at(size, Path(tmp)), args.batch_size, args.epochs, augment=False)
            demand = images_per_second(arch, size, args.batch_size, args.steps, mixed_precision=args.mixed_precision)
            rows.append(
                {
                    "architecture": arch,
                    "image_size": size,
                    "device": where,
                    "delivered": round(supply, 1),
                    "consumed": round(demand, 1),
                    "ratio": round(supply / demand, 1),
                    "load": round(os.getloadavg()[0], 2),
                    "mixed_precision": args.mixed_precision,
                }
            )
            verdict = "" if supply >= TARGET * demand else f" (below the {TARGET:g}x target)"
            print(
                f"| {arch} | {size} | {where} | {supply:.0f} | {demand:.1f} | {supply / demand:.1f}x{verdict} "
                f"| {rows[-1]['load']} |",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()

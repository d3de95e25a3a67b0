"""Augment stage images/s against this machine's own limit, measured in the same run.

    .venv/bin/python benchmarks/augment_throughput.py [--rounds 3] [--workers N]

The limit is the same stage with augmentation switched off (``augment_image`` returns
its input): every source JPEG decoded and resized, every output JPEG encoded and written,
the same number of records. Runs alternate (limit, augment, limit, ...) so that a change
in load from other processes hits both; the ratio of the medians is the figure.
Reads data/encoded and data/raw/images; writes only under a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from yerbnet import augment
from yerbnet.encode import read_encoded
from yerbnet.params import load_params

ROOT = Path(__file__).resolve().parents[1]


def records_per_second(out: Path, workers: int, augmented: bool) -> float:
    params = load_params(ROOT / "params.yaml")
    real = augment.augment_image
    if not augmented:
        augment.augment_image = lambda pixels, rng, cfg: pixels
    try:
        started = time.perf_counter()
        index = augment.augment_dataset(
            read_encoded(ROOT / "data/encoded"),
            ROOT / "data/raw/images",
            out,
            params.augment,
            params.image_size,
            params.seed,
            workers,
        )
        elapsed = time.perf_counter() - started
    finally:
        augment.augment_image = real
    return sum(split["records"] for split in index["splits"].values()) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    args = parser.parse_args()
    limit, real = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            limit.append(records_per_second(Path(tmp) / f"limit{round_}", args.workers, augmented=False))
            real.append(records_per_second(Path(tmp) / f"real{round_}", args.workers, augmented=True))
            print(
                f"round {round_ + 1}: limit {limit[-1]:.0f} rec/s, augment {real[-1]:.0f} rec/s, "
                f"load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
    ratio = statistics.median(real) / statistics.median(limit)
    print(
        f"median: limit {statistics.median(limit):.0f} rec/s, augment {statistics.median(real):.0f} rec/s, "
        f"ratio {ratio:.0%} (target >= 80%), workers {args.workers}, cpus {os.cpu_count()}"
    )


if __name__ == "__main__":
    main()

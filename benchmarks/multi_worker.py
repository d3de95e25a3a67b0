"""Multi-worker training on this machine: 1, 2 and 4 CPU workers on loopback against one.

    .venv/bin/python benchmarks/multi_worker.py [--workers 1 2 4] [--epochs 3] [--json out.json]

Shards of the default data set (data/raw + data/encoded at params.yaml's image_size,
``--copies`` augmented copies) are written once; then for each worker count, that many
processes run the real train stage (:func:`yerbnet.train.train`, params.yaml's train
section with ``distribute: multi_worker``, ``batch_size`` the global batch) with TF_CONFIG
naming ``localhost`` ports, as separate machines would. A run of ``distribute: none``
gives the cost of the strategy itself. Figures: worker 0's epoch time (train steps and
the validation pass), from the second epoch on (the first builds the graphs), as images
per second for the cluster and per worker, the scaling efficiency (cluster images/s over
N times one worker's) and the time per step. Every worker here shares the same cores, so
this measures the per-step overhead, not what N machines would gain.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from yerbnet.input_pipeline import read_index
from yerbnet.params import load_params

ROOT = Path(__file__).resolve().parents[1]

WORKER = """
import sys
from dataclasses import replace
from pathlib import Path
from yerbnet.params import load_params
from yerbnet.sources.images import PhotoLimits
from yerbnet.train import train
params = load_params(Path(sys.argv[1]))
cfg = replace(params.train, distribute=sys.argv[4], epochs=int(sys.argv[5]), patience=int(sys.argv[5]))
out = Path(sys.argv[3])
train(cfg, Path(sys.argv[2]), out / "model.keras", out / "live", out / "backup", seed=params.seed,
      limits=PhotoLimits(params.scrape.max_pixels, params.scrape.max_side))
"""

SHARDS = """
import sys
from dataclasses import replace
from pathlib import Path
from yerbnet.augment import augment_dataset
from yerbnet.encode import read_encoded
from yerbnet.params import load_params
root, out, copies = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
params = load_params(root / "params.yaml")
augment_dataset(read_encoded(root / "data/encoded"), root / "data/raw/images", out,
                replace(params.augment, copies=copies, online=False), params.image_size, params.seed)
"""


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run_cluster(workers: int, distribute: str, shards: Path, folder: Path, epochs: int) -> Path:
    """Start ``workers`` training processes at once and wait for all; returns worker 0's output folder."""
    cluster = {"worker": [f"localhost:{port}" for port in free_ports(workers)]}
    processes = []
    for index in range(workers):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        if distribute == "multi_worker":
            env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        out = folder / f"{distribute}-{workers}" / f"worker{index}"
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    WORKER,
                    str(ROOT / "params.yaml"),
                    str(shards),
                    str(out),
                    distribute,
                    str(epochs),
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [process.communicate()[0] for process in processes]
    if any(process.returncode for process in processes):
        raise SystemExit(f"{workers} x {distribute} failed:\n{outputs[0][-3000:]}")
    return folder / f"{distribute}-{workers}" / "worker0"


def epoch_seconds(worker0: Path) -> list[float]:
    """Worker 0's per-epoch wall times as ThroughputLogger recorded them through dvclive."""
    table = pd.read_csv(worker0 / "live" / "plots" / "metrics" / "train" / "epoch_seconds.tsv", sep="\t")
    return table["epoch_seconds"].tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--copies", type=int, default=0, help="augmented copies per train image in the shards")
    parser.add_argument("--json", type=Path, help="write the rows to this file")
    args = parser.parse_args()
    batch = load_params(ROOT / "params.yaml").train.batch_size
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        shards = Path(tmp) / "shards"
        subprocess.run(
            [sys.executable, "-c", SHARDS, str(ROOT), str(shards), str(args.copies)],
            check=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
            capture_output=True,
        )
        records = read_index(shards)["splits"]["train"]["records"]
        steps = -(-records // batch)
        print(
            f"train split: {records} records, global batch {batch}, {steps} steps per epoch\n"
            "| setup | workers | cluster img/s | img/s per worker | scaling efficiency | ms per step | wall (s) "
            "| load |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            flush=True,
        )
        single = None
        for distribute, workers in [("none", 1)] + [("multi_worker", n) for n in args.workers]:
            started = time.perf_counter()
            seconds = statistics.median(
                epoch_seconds(run_cluster(workers, distribute, shards, Path(tmp), args.epochs))[1:]
            )
            rate = records / seconds
            if distribute == "multi_worker" and workers == 1:
                single = rate
            efficiency = rate / (workers * single) if single and distribute == "multi_worker" else None
            rows.append(
                {
                    "distribute": distribute,
                    "workers": workers,
                    "cluster_img_s": round(rate, 1),
                    "per_worker_img_s": round(rate / workers, 1),
                    "efficiency": round(efficiency, 3) if efficiency is not None else None,
                    "ms_per_step": round(seconds / steps * 1000, 1),
                    "wall_s": round(time.perf_counter() - started),
                    "load": round(os.getloadavg()[0], 2),
                }
            )
            r = rows[-1]
            print(
                f"| {distribute} | {workers} | {r['cluster_img_s']} | {r['per_worker_img_s']} | "
                f"{'-' if efficiency is None else f'{efficiency:.0%}'} | {r['ms_per_step']} | {r['wall_s']} "
                f"| {r['load']} |",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()

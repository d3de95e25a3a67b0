"""Two training workers on this machine, talking over loopback like two machines would.

Each worker writes to its own folder, as each machine would to its own checkout. BatchNorm
moving statistics are not compared: every worker gathers them from its share of the batches.
"""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pandas as pd

WORKER = """
import sys
from pathlib import Path
from yerbnet.params import TrainParams
from yerbnet.sources.images import PhotoLimits
from yerbnet.train import train
cfg = TrainParams(architecture="simple_cnn", cnn_blocks=1, cnn_filters=4, batch_size=8, epochs=3, patience=3,
                  learning_rate=0.01, lr_schedule="constant", distribute="multi_worker")
out = Path(sys.argv[2])
train(cfg, Path(sys.argv[1]), out / "model.keras", out / "live", out / "backup", seed=0,
      limits=PhotoLimits(max_pixels=10_000_000, max_side=None))
"""


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_train_one_model_in_step(tiny_shards, tmp_path):
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    workers = []
    for index in range(2):
        env = {
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
        }
        workers.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER, str(tiny_shards), str(tmp_path / f"worker{index}")],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]

    models = [keras.models.load_model(tmp_path / f"worker{i}" / "model.keras", compile=False) for i in range(2)]
    trained = [[v.numpy() for v in model.trainable_weights] for model in models]
    assert all(np.array_equal(a, b) for a, b in zip(*trained, strict=True))  # gradients were summed across workers
    loss = pd.read_csv(tmp_path / "worker0" / "live" / "plots" / "metrics" / "train" / "loss.tsv", sep="\t")["loss"]
    assert len(loss) == 3 and loss.iloc[-1] < loss.iloc[0]

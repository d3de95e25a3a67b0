"""Peak memory of the augment stage and of the input pipeline at growing data set sizes.

    .venv/bin/python benchmarks/augment_memory.py [--sizes 800 3000 6000]

For each size, an encoded data set of that many images is made under a temporary folder
by linking the photos in data/raw/images over and over under new names (labels cycled from
data/encoded, 70/15/15 split), so no photo is re-rendered. Augment (params.yaml settings)
and then one shuffled epoch of the train pipeline each run in a fresh process, whose peak
RSS is the figure: flat across sizes means memory does not grow with the data.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from yerbnet.encode import read_encoded

ROOT = Path(__file__).resolve().parents[1]

AUGMENT = """
import resource, sys, time
from pathlib import Path
import pandas as pd
from yerbnet.augment import augment_dataset
from yerbnet.encode import Encoded
from yerbnet.params import load_params
folder, classes = Path(sys.argv[1]), sys.argv[2].split("|")
params = load_params(Path(sys.argv[3]))
started = time.perf_counter()
index = augment_dataset(Encoded(pd.read_pickle(folder / "frame.pkl"), classes), folder / "images",
                        folder / "shards", params.augment, params.image_size, params.seed)
records = sum(s["records"] for s in index["splits"].values())
print(records, time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

PIPELINE = """
import resource, sys, time
from pathlib import Path
from yerbnet.input_pipeline import split_dataset
started, images = time.perf_counter(), 0
for batch in split_dataset(Path(sys.argv[1]) / "shards", "train", 32, epochs=range(1), seed=0):
    images += int(batch[0].shape[0])
print(images, time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def make_dataset(folder: Path, size: int) -> list[str]:
    """``size`` linked photos and their encoded frame in ``folder``; returns the class list."""
    source = read_encoded(ROOT / "data/encoded")
    photos = ROOT / "data/raw/images"
    rows = source.frame.iloc[[i % len(source.frame) for i in range(size)]].reset_index(drop=True)
    (folder / "images").mkdir(parents=True)
    names = []
    for i, original in enumerate(rows["image"]):
        name = f"{i:05d}_{original}"
        (folder / "images" / name).symlink_to(photos / original)
        names.append(name)
    rows["image"] = names
    rows["split"] = ["train" if i % 20 < 14 else "val" if i % 20 < 17 else "test" for i in range(size)]
    rows.to_pickle(folder / "frame.pkl")
    return source.classes


def child(code: str, *args: str) -> tuple[int, float, float]:
    """Run ``code`` in a fresh interpreter; its printed (count, seconds, peak KiB), peak in MiB."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True)
    count, seconds, peak_kib = out.stdout.split()[-3:]
    return int(count), float(seconds), int(peak_kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[800, 3000, 6000])
    args = parser.parse_args()
    results = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            classes = make_dataset(folder, size)
            records, aug_s, aug_mib = child(AUGMENT, str(folder), "|".join(classes), str(ROOT / "params.yaml"))
            images, pipe_s, pipe_mib = child(PIPELINE, str(folder))
        results.append(
            {
                "images": size,
                "records": records,
                "augment_peak_mib": round(aug_mib),
                "augment_rec_per_s": round(records / aug_s),
                "pipeline_peak_mib": round(pipe_mib),
                "pipeline_img_per_s": round(images / pipe_s),
                "load": round(os.getloadavg()[0], 2),
            }
        )
        print(json.dumps(results[-1]), flush=True)


if __name__ == "__main__":
    main()

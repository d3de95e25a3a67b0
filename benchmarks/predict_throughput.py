"""`yerbnet predict` throughput on a generated folder, and whether memory stays flat as it grows.

    .venv/bin/python benchmarks/predict_throughput.py [--images 1000] [--side 1080] [--model-dir models]

Writes ``--images`` photo-sized JPEGs (coloured shapes on a gradient, Instagram's 1080 px side by
default) to a temporary folder, then runs :class:`yerbnet.predict.Predictor` over it the way
the command does (lazy folder walk, batches, streamed results) and prints images/s and the
process's resident memory after each quarter of the folder. Also times decoding alone and
inference alone, to show which one bounds the total. Machine load is printed with the figures:
the 2 cores are shared.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
from PIL import Image, ImageDraw

from yerbnet.predict import Predictor, Skipped, image_paths, read_image


def make_photos(folder: Path, count: int, side: int) -> None:
    rng = np.random.default_rng(0)
    ramp = np.linspace(60, 200, side, dtype=np.uint8)
    base = np.stack(
        [np.tile(ramp, (side, 1)), np.tile(ramp[:, None], (1, side)), np.full((side, side), 120, np.uint8)], -1
    )
    for i in range(count):
        image = Image.fromarray(base)
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x, y = rng.integers(0, side - side // 4, 2)
            draw.rectangle((x, y, x + side // 8, y + side // 4), fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
        image.save(folder / f"{i:05d}.jpg", quality=85)


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--side", type=int, default=1080)
    parser.add_argument("--model-dir", type=Path, default=Path("models"))
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        make_photos(folder, args.images, args.side)
        print(f"wrote {args.images} JPEGs of {args.side} px in {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        predictor = Predictor(args.model_dir)
        print(f"model load: {time.perf_counter() - start:.1f} s (input {predictor.size} px); RSS {rss_mb():.0f} MB")

        sample = sorted(folder.iterdir())[:200]
        start = time.perf_counter()
        batch = np.stack([read_image(p, predictor.size) for p in sample]).astype(np.float32)
        print(f"decode + resize only: {len(sample) / (time.perf_counter() - start):.0f} images/s")
        predictor.model.predict_on_batch(batch[: args.batch_size])  # warm-up
        start = time.perf_counter()
        for i in range(0, len(batch), args.batch_size):
            predictor.model.predict_on_batch(batch[i : i + args.batch_size])
        print(f"inference only: {len(batch) / (time.perf_counter() - start):.0f} images/s")
        del batch

        done, marks = 0, {args.images * q // 4 for q in (1, 2, 3, 4)}
        start = time.perf_counter()
        for result in predictor.predict(image_paths([folder]), args.batch_size):
            done += not isinstance(result, Skipped)
            if done in marks:
                marks.discard(done)
                elapsed = time.perf_counter() - start
                print(f"  {done:6d} images: {done / elapsed:6.0f} images/s, RSS {rss_mb():.0f} MB")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

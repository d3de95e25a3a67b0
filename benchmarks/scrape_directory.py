"""Benchmark the directory source: images/s and peak memory on a generated folder of Instagram-sized photos.

    .venv/bin/python benchmarks/scrape_directory.py --photos 6000 [--workers 1 2]

Generates ``--photos`` distinct 1080x1080 JPEGs (once; reused while the folder exists), then
runs the real scrape on the first quarter and on all of them, each in a fresh process, so
the two peak-memory figures show whether memory stays flat as the folder grows. With
several ``--workers`` counts each size runs once per count (default: every core); the CPU
figure (CPU seconds per wall second) shows how many cores the scrape kept busy.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

SIDE = 1080  # Instagram's usual photo size


def generate(folder: Path, photos: int) -> None:
    """Distinct photo-like JPEGs in an instaloader-like layout (a folder per 1,000 posts)."""
    rng = np.random.default_rng(0)
    bases = [
        Image.fromarray(rng.integers(0, 255, (SIDE // 8, SIDE // 8, 3), dtype=np.uint8)).resize((SIDE, SIDE))
        for _ in range(8)
    ]
    for i in tqdm(range(photos), desc="generate", unit="img"):
        path = folder / f"part{i // 1000}" / f"2020-01-01_00-00-00_UTC_{i:05d}.jpg"
        if path.exists():
            continue
        image = bases[i % len(bases)].copy()
        image.paste(
            tuple(int(v) for v in rng.integers(0, 255, 3)),
            (i % 900, i // 900 % 900, i % 900 + 120, i // 900 % 900 + 120),
        )
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=90)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buffer.getvalue())


def measure(folder: Path, limit: int, workers: int) -> dict[str, float]:
    """Run the scrape on the first ``limit`` photos in a child process; its own peak RSS is the figure."""
    code = (
        "import json, resource, sys, time\n"
        "from pathlib import Path\n"
        "from yerbnet.params import parse_params\n"
        "from yerbnet.sources.directory import ingest\n"
        "cfg = parse_params({'scrape': {'source': 'directory', 'directory': sys.argv[1]}}).scrape\n"
        "start, cpu = time.perf_counter(), time.process_time()\n"
        "records = ingest(Path(sys.argv[1]), Path(sys.argv[2]), cfg, 'directory', workers=int(sys.argv[3]))\n"
        "seconds = time.perf_counter() - start\n"
        "print(json.dumps({'images': len(records), 'seconds': seconds, 'cpu': (time.process_time() - cpu) / seconds,\n"
        "    'peak_rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        subset = Path(tmp) / "photos"
        subset.mkdir()
        for path in sorted(folder.rglob("*.jpg"))[:limit]:
            os.link(path, subset / path.name)  # a hard link: no copying, and not a symlink the scrape would refuse
        out = subprocess.run(
            [sys.executable, "-c", code, str(subset), str(Path(tmp) / "raw"), str(workers)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["images_per_s"] = result["images"] / result["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=6000)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "yerbnet-bench-photos")
    parser.add_argument("--workers", type=int, nargs="+", default=[os.cpu_count() or 1])
    args = parser.parse_args()
    generate(args.folder, args.photos)
    for limit in (args.photos // 4, args.photos):
        for workers in args.workers:
            started = time.perf_counter()
            r = measure(args.folder, limit, workers)
            print(
                f"{r['images']:6d} photos, {workers} workers: {r['images_per_s']:6.1f} images/s, CPU {r['cpu']:.2f}, "
                f"peak RSS {r['peak_rss_mib']:6.0f} MiB (scrape {r['seconds']:.0f} s, with copying "
                f"{time.perf_counter() - started:.0f} s, load {os.getloadavg()[0]:.1f})",
                flush=True,
            )


if __name__ == "__main__":
    main()

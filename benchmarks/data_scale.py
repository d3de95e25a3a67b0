"""Wall time and peak memory of every data stage, and of DVC itself, at 1,000 to 100,000 photos.

    .venv/bin/python benchmarks/data_scale.py --photos 1000 10000 100000 [--json results.json] [--archives]
                                              [--stages scrape import_labels encode] [--no-dvc]

Generates the largest count of distinct 320 px JPEGs once (in parallel, deterministic
content, a folder per 1,000 posts) with an Azure ML Data Labeling CSV export naming them.
For each count, a scratch copy of the project (its own ``src`` on PYTHONPATH) gets that
many photos hard-linked into ``photos/`` with ``scrape.source: directory``, then runs each
data stage's ``cmd`` from dvc.yaml (scrape, import_labels, encode, augment) and DVC's own
work on the result: ``dvc commit`` (hash everything, copy it into the cache), ``dvc status``
with the hashes cached, ``dvc status augment`` with them dropped (hashes data/raw/images
again), ``dvc push`` to a local remote. ``--archives`` also times ``dvc add`` and ``dvc push``
of the same images packed into one tar per 1,000, to show what per-file cost DVC adds.
Each figure is one process's wall time and peak RSS (wait4), one JSON line per step.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import sys
import tarfile
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stage_costs import copy_project, run_stage

from yerbnet.classtree.taxonomy import LEAVES, NO_YERB
from yerbnet.labels.azure import datastore_url, write_csv_export

SIDE = 320
PER_FOLDER = 1000
DATA_STAGES = ("scrape", "import_labels", "encode", "augment")
PRODUCTS = tuple(leaf for leaf in LEAVES if leaf != NO_YERB)
# Imbalanced like the real project: the commonest flavour about 10x the rarest.
PRODUCT_P = np.geomspace(1.0, 0.1, len(PRODUCTS)) / np.geomspace(1.0, 0.1, len(PRODUCTS)).sum()


def photo_path(i: int) -> str:
    return f"batch{i // PER_FOLDER:03d}/IMG_{i:06d}.jpg"


def render(i: int) -> bytes:
    """Photo ``i``: a smooth random background with a few boxes, distinct bytes for every ``i``."""
    rng = np.random.default_rng([7, i])
    height = SIDE if i % 4 else SIDE * 3 // 4  # some landscape photos, so augment pads
    coarse = rng.integers(0, 255, (6, 6, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize((SIDE, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(3):
        x, y = rng.integers(0, SIDE - 40), rng.integers(0, height - 40)
        w, h = rng.integers(20, 120, 2)
        draw.rectangle((int(x), int(y), int(x + w), int(y + h)), fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _write(args: tuple[Path, int]) -> None:
    folder, i = args
    path = folder / photo_path(i)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(render(i))
        tmp.rename(path)


def generate(folder: Path, photos: int) -> None:
    """Write photos 0..photos-1 (skipping those already there) on every core."""
    started = time.perf_counter()
    with Pool(os.cpu_count()) as pool:
        for _ in pool.imap_unordered(_write, ((folder, i) for i in range(photos)), chunksize=256):
            pass
    print(f"generate: {photos} photos in {folder} ({time.perf_counter() - started:.0f} s)", flush=True)


def labels_for(i: int) -> list[str]:
    """57 % "No Yerb", else one to three products drawn with the project's imbalance."""
    rng = np.random.default_rng([11, i])
    if rng.random() < 0.57:
        return [NO_YERB]
    return sorted({str(p) for p in rng.choice(PRODUCTS, size=int(rng.integers(1, 4)), p=PRODUCT_P)})


def write_export(path: Path, photos: int) -> None:
    """The CSV a labeller would export after uploading the photo folder as it is."""
    write_csv_export(
        path, [(datastore_url(photo_path(i), "UI/2024-05-01_120000"), labels_for(i)) for i in range(photos)]
    )


def scratch_project(work: Path, source: Path, photos: int) -> None:
    """The project with ``photos`` linked photos, the directory source and the export configured."""
    copy_project(work)
    target = work / "photos"
    for i in range(photos):
        link = target / photo_path(i)
        link.parent.mkdir(parents=True, exist_ok=True)
        os.link(source / photo_path(i), link)  # hard links: no copying, and not symlinks scrape would refuse
    write_export(work / "export.csv", photos)
    params = yaml.safe_load((work / "params.yaml").read_text())
    params["scrape"].update(source="directory", directory="photos")
    params["labels"]["export"] = "export.csv"
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    dvc(work, "config --local core.site_cache_dir .site-cache")  # inside the copy: dropped to time cold hashing
    dvc(work, f"remote add --local -d bench {work / 'remote'}")


def dvc(work: Path, args: str) -> tuple[float, float]:
    return run_stage(f"{Path(sys.executable).parent / 'dvc'} {args}", work)


def count_files(folder: Path) -> int:
    return sum(len(names) for _, _, names in os.walk(folder))


def pack(images: Path, out: Path) -> None:
    """The images as uncompressed tars of ``PER_FOLDER`` each (JPEGs do not compress further)."""
    names = sorted(os.listdir(images))
    out.mkdir()
    for start in range(0, len(names), PER_FOLDER):
        with tarfile.open(out / f"images-{start // PER_FOLDER:05d}.tar", "w") as tar:
            for name in names[start : start + PER_FOLDER]:
                tar.add(images / name, arcname=name)


def measure(work: Path, photos: int, archives: bool, stages: list[str], with_dvc: bool) -> list[dict]:
    """Every step's figures for one photo count, in order (``stages`` in dvc.yaml's order)."""
    steps: list[tuple[str, str]] = [
        (name, stage["cmd"])
        for name, stage in yaml.safe_load((work / "dvc.yaml").read_text())["stages"].items()
        if name in stages
    ]
    results = []

    def record(step: str, wall: float, peak: float, **extra: object) -> None:
        results.append(
            {
                "photos": photos,
                "step": step,
                "wall_s": round(wall, 2),
                "peak_rss_mib": round(peak),
                "per_1000_s": round(wall / photos * 1000, 3),
                "load": round(os.getloadavg()[0], 2),
                **extra,
            }
        )
        print(json.dumps(results[-1]), flush=True)

    for name, cmd in steps:
        record(name, *run_stage(cmd, work))
    if not with_dvc:
        return results
    record(
        "dvc commit (hash + copy to cache)",
        *dvc(work, "commit -f " + " ".join(DATA_STAGES)),
        cache_files=count_files(work / ".dvc" / "cache"),
    )
    record("dvc status (hashes cached)", *dvc(work, "status"))
    shutil.rmtree(work / ".site-cache")
    record("dvc status augment (cold: hashes data/raw/images)", *dvc(work, "status augment"))
    record("dvc push (local remote)", *dvc(work, "push -q"), remote_files=count_files(work / "remote"))
    if archives:
        pack(work / "data/raw/images", work / "packed")
        record("dvc add: images as tars of 1,000", *dvc(work, "add -q packed"))
        record("dvc push: the tars", *dvc(work, "push -q packed.dvc"))
    return results


def table(results: list[dict]) -> str:
    """Markdown: a row per step, wall time and peak RSS per photo count, and the growth per 10x photos."""
    counts = sorted({r["photos"] for r in results})
    steps = list(dict.fromkeys(r["step"] for r in results))
    cell = {(r["step"], r["photos"]): r for r in results}
    lines = [
        "| step | " + " | ".join(f"{n:,} photos: wall s / peak MiB" for n in counts) + " | time per 10x photos |",
        "|---|" + "---:|" * (len(counts) + 1),
    ]
    for step in steps:
        row = [
            f"{cell[step, n]['wall_s']:.1f} / {cell[step, n]['peak_rss_mib']}" if (step, n) in cell else "-"
            for n in counts
        ]
        growth = [
            cell[step, b]["wall_s"] / cell[step, a]["wall_s"]
            for a, b in zip(counts, counts[1:])
            if (step, a) in cell and (step, b) in cell and b == 10 * a
        ]
        lines.append(f"| {step} | " + " | ".join(row) + " | " + ", ".join(f"{g:.1f}x" for g in growth) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--source", type=Path, default=Path(tempfile.gettempdir()) / "yerbnet-scale-photos")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()), help="scratch copies go here")
    parser.add_argument("--json", type=Path, help="also append every result line to this file")
    parser.add_argument("--archives", action="store_true", help="also time the images packed as tars")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copies")
    parser.add_argument(
        "--stages", nargs="+", choices=DATA_STAGES, default=list(DATA_STAGES), help="the data stages to run"
    )
    parser.add_argument("--no-dvc", action="store_true", help="only the stages, not DVC's own commands")
    parser.add_argument("--table", type=Path, help="only print the table of an earlier run's --json file")
    args = parser.parse_args()
    if args.table:
        print(table([json.loads(line) for line in args.table.read_text().splitlines()]))
        return
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}", flush=True)
    generate(args.source, max(args.photos))
    everything: list[dict] = []
    for photos in args.photos:
        work = Path(tempfile.mkdtemp(prefix=f"yerbnet-scale-{photos}-", dir=args.work))
        scratch_project(work, args.source, photos)
        results = measure(work, photos, args.archives, args.stages, not args.no_dvc)
        if args.json:
            with args.json.open("a", encoding="utf-8") as out:
                out.writelines(json.dumps(r) + "\n" for r in results)
        if not args.keep:
            shutil.rmtree(work)
        everything.extend(results)
    print(table(everything))


if __name__ == "__main__":
    main()

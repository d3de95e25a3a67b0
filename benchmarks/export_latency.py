"""Size and single-image latency of each `yerbnet export` format, beside the Keras model predict uses.

    .venv/bin/python benchmarks/export_latency.py [--model-dir models] [--runs 50] [--side 1440]

Copies the model folder (a training run may rewrite it meanwhile), exports every format to a
temporary folder, and times one photo at a time, median of ``--runs`` calls after a warm-up:
a ``--side`` x 3/4 photo as load_rgb leaves it (the graph squares and resizes it), and an
input already at the model's size (what the graph's resize costs is the difference). The
Keras row is predict's path: fit_square in Pillow, then the model on a batch of one. Also
prints each format's largest score difference from Keras on the same photos. Runtimes get
all the machine's cores (TFLite ``num_threads``, onnxruntime's default).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from yerbnet.export import FORMATS, MODEL_NAMES, export_bundle
from yerbnet.saved_model import MODEL_FILE, load_model, read_info
from yerbnet.sources.images import fit_square


def median_ms(call: Callable[[], object], runs: int) -> float:
    call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def runner(fmt: str, bundle: Path) -> Callable[[np.ndarray], np.ndarray]:
    """One photo in, its scores out, as a deployer would call the bundle."""
    if fmt == "savedmodel":
        import tensorflow as tf

        serve = tf.saved_model.load(str(bundle / MODEL_NAMES[fmt])).signatures["serving_default"]
        return lambda photo: serve(image=tf.constant(photo))["scores"].numpy()
    if fmt == "tflite":
        import tensorflow as tf

        interpreter = tf.lite.Interpreter(model_path=str(bundle / MODEL_NAMES[fmt]), num_threads=os.cpu_count())
        signature = interpreter.get_signature_runner()
        return lambda photo: signature(image=photo)["scores"]
    import onnxruntime

    session = onnxruntime.InferenceSession(str(bundle / MODEL_NAMES[fmt]), providers=["CPUExecutionProvider"])
    return lambda photo: session.run(["scores"], {"image": photo})[0]


def size_mib(path: Path) -> float:
    return (sum(f.stat().st_size for f in path.rglob("*")) if path.is_dir() else path.stat().st_size) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=Path("models"))
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--side", type=int, default=1440, help="the photo's long side (scrape.max_side's default)")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "models"
        shutil.copytree(args.model_dir, model_dir, ignore=shutil.ignore_patterns(".backup"))
        info = read_info(model_dir)
        model = load_model(model_dir / MODEL_FILE)
        size = int(model.input_shape[1])
        photo = rng.integers(0, 256, (args.side * 3 // 4, args.side, 3), dtype=np.uint8)
        small = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)

        def keras(image: np.ndarray) -> np.ndarray:
            return model.predict_on_batch(
                fit_square(Image.fromarray(image), size, info.resize)[None].astype(np.float32)
            )[0]

        reference = {name: keras(image) for name, image in (("photo", photo), ("small", small))}
        print(
            f"model: {size} px, {len(info.classes)} classes, {size_mib(model_dir / MODEL_FILE):.2f} MiB .keras; "
            f"photo {photo.shape[1]}x{photo.shape[0]}"
        )
        print(
            f"| format | size (MiB) | export (s) | {photo.shape[1]}x{photo.shape[0]} photo (ms) | "
            f"{size}x{size} input (ms) | max score diff vs Keras |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        print(
            f"| keras (predict's path) | {size_mib(model_dir / MODEL_FILE):.2f} | - | "
            f"{median_ms(lambda: keras(photo), args.runs):.1f} | {median_ms(lambda: keras(small), args.runs):.1f} | - |"
        )
        for fmt in FORMATS:
            start = time.perf_counter()
            path = export_bundle(model_dir, Path(tmp) / fmt, fmt)
            seconds = time.perf_counter() - start
            run = runner(fmt, Path(tmp) / fmt)
            diff = max(
                float(np.abs(run(image) - reference[name]).max())
                for name, image in (("photo", photo), ("small", small))
            )
            photo_ms = median_ms(lambda run=run: run(photo), args.runs)
            small_ms = median_ms(lambda run=run: run(small), args.runs)
            print(f"| {fmt} | {size_mib(path):.2f} | {seconds:.1f} | {photo_ms:.1f} | {small_ms:.1f} | {diff:.1e} |")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

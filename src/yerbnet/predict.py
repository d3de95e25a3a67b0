"""Use a trained model: score image files with the thresholds evaluate chose, hierarchy-consistently."""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from yerbnet.augment import fit_square
from yerbnet.errors import UserError
from yerbnet.hierarchy import Hierarchy
from yerbnet.training import CLASSES_FILE

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"}
THRESHOLDS_FILE = "thresholds.json"
READ_THREADS = 2  # the machines this runs on have 2 cores; more threads only contend
UNREADABLE = (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError, SyntaxError)


@dataclass(frozen=True)
class Prediction:
    path: Path
    labels: list[str]            # predicted, hierarchy-consistent, highest score first
    scores: dict[str, float]     # every class (parents raised to their best child), highest first


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


def image_paths(targets: list[Path]) -> Iterator[Path]:
    """Files as given, folders searched recursively for images (sorted per folder).

    Every target is checked up front (a typo fails before the model loads); folders are walked
    lazily, so a folder of any size costs no memory.
    """
    for target in targets:
        if not target.exists():
            raise UserError(f"{target}: no such file or folder")
    return _walk(targets)


def _walk(targets: list[Path]) -> Iterator[Path]:
    for target in targets:
        if not target.is_dir():
            yield target
            continue
        for folder, subdirs, names in os.walk(target):
            subdirs.sort()
            for name in sorted(names):
                if Path(name).suffix.lower() in IMAGE_SUFFIXES:
                    yield Path(folder) / name


def load_thresholds(model_dir: Path, classes: list[str]) -> np.ndarray:
    """The evaluate stage's per-class thresholds; 0.5 for every class when it has not run.

    Files from before the ``{"mode", "thresholds"}`` layout are a bare ``{class: value}``.
    """
    path = model_dir / THRESHOLDS_FILE
    if not path.exists():
        return np.full(len(classes), 0.5)
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        saved = saved.get("thresholds", saved)
        return np.array([float(saved.get(c, 0.5)) for c in classes])
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
        raise UserError(f"{path}: not a thresholds file (expected {{\"thresholds\": {{class: number}}}}); "
                        "rerun the evaluate stage") from None


def read_image(path: Path, size: int, resize: str = "pad") -> np.ndarray:
    """The image as the model saw its training data: squared (``pad`` or ``crop``), resized to ``size``."""
    with Image.open(path) as image:
        image.draft("RGB", (size, size))  # JPEG: decode at a reduced scale, still >= size (much faster)
        return fit_square(image, size, resize)


class Predictor:
    """A loaded model, its class list, per-class thresholds and the class tree."""

    def __init__(self, model_dir: Path, threshold: float | None = None) -> None:
        import keras  # slow import, kept out of `yerbnet --help`

        model_path = model_dir / "model.keras"
        if not model_path.exists():
            raise UserError(f"{model_path}: not found; train a model first (make run)")
        if threshold is not None and not 0 < threshold < 1:
            raise UserError(f"--threshold {threshold}: must be between 0 and 1")
        self.model = keras.models.load_model(model_path, compile=False)
        saved = json.loads((model_dir / CLASSES_FILE).read_text(encoding="utf-8"))
        self.classes: list[str] = saved["classes"]
        self.resize: str = saved.get("resize", "pad")
        self.size = int(self.model.input_shape[1])
        self.hierarchy = Hierarchy.of(self.classes)
        self.thresholds = (np.full(len(self.classes), threshold) if threshold is not None
                           else load_thresholds(model_dir, self.classes))

    def predict(self, paths: Iterator[Path] | list[Path], batch_size: int = 32) -> Iterator[Prediction | Skipped]:
        """Yield a :class:`Prediction` per readable image (in order) and a :class:`Skipped` per unreadable
        file (as soon as it is found)."""
        batch: list[tuple[Path, np.ndarray]] = []
        for path, image in self._read_ahead(paths, 2 * batch_size):
            if isinstance(image, Skipped):
                yield image
                continue
            batch.append((path, image))
            if len(batch) == batch_size:
                yield from self._flush(batch)
                batch = []
        yield from self._flush(batch)

    def _read_ahead(self, paths: Iterator[Path] | list[Path], window: int) -> Iterator[tuple[Path, np.ndarray | Skipped]]:
        """Decode in two threads while the model runs (Pillow releases the GIL); at most ``window``
        images in flight, so memory does not grow with the folder."""
        with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
            pending: deque[tuple[Path, Future]] = deque()
            for path in paths:
                pending.append((path, pool.submit(self._read, path)))
                if len(pending) >= window:
                    path, future = pending.popleft()
                    yield path, future.result()
            for path, future in pending:
                yield path, future.result()

    def _read(self, path: Path) -> np.ndarray | Skipped:
        try:
            return read_image(path, self.size, self.resize)
        except UNREADABLE as exc:
            return Skipped(path, f"not a readable image ({exc.__class__.__name__}: {exc})")

    def _flush(self, batch: list[tuple[Path, np.ndarray]]) -> Iterator[Prediction]:
        if not batch:
            return
        raw = np.asarray(self.model.predict_on_batch(np.stack([image for _, image in batch]).astype(np.float32)))
        fixed, labels = self.hierarchy.decide(raw, self.thresholds)
        for (path, _), row, chosen in zip(batch, fixed, labels):
            order = np.argsort(-row, kind="stable")
            yield Prediction(path, [self.classes[i] for i in order if chosen[i]],
                             {self.classes[i]: float(row[i]) for i in order})

"""Use a trained model: score image files with the thresholds evaluate chose, hierarchy-consistently."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from yerbnet.classtree.decisions import Hierarchy
from yerbnet.errors import UserError
from yerbnet.parallel import ordered_map
from yerbnet.saved_model import MODEL_FILE, load_model, load_thresholds, read_info
from yerbnet.sources.images import IMAGE_SUFFIXES, PhotoLimits, UnusableImage, fit_square, load_rgb

READ_THREADS = 2  # the machines this runs on have 2 cores; more threads only contend


@dataclass(frozen=True)
class Prediction:
    path: Path
    labels: list[str]  # predicted, hierarchy-consistent, highest score first
    scores: dict[str, float]  # every class (parents raised to their best child), highest first


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


def read_image(path: Path, size: int, resize: str, limits: PhotoLimits) -> np.ndarray:
    """The photo as training saw it: normalised as scrape did (upright, RGB, within the limits),
    then squared (``pad``, ``crop`` or ``stretch``) and resized to ``size`` as augment did."""
    return fit_square(load_rgb(path.read_bytes(), limits.max_pixels, limits.max_side), size, resize)


class Predictor:
    """A loaded model, its class list, per-class thresholds and the class tree."""

    def __init__(self, model_dir: Path, threshold: float | None = None) -> None:
        if threshold is not None and not 0 < threshold < 1:
            raise UserError(f"--threshold {threshold}: must be between 0 and 1")
        info = read_info(model_dir)
        self.model = load_model(model_dir / MODEL_FILE)
        self.classes, self.resize, self.limits = info.classes, info.resize, info.limits
        self.size = int(self.model.input_shape[1])
        self.hierarchy = Hierarchy.of(self.classes)
        self.thresholds = (
            np.full(len(self.classes), threshold) if threshold is not None else load_thresholds(model_dir, self.classes)
        )

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

    def _read_ahead(
        self, paths: Iterator[Path] | list[Path], window: int
    ) -> Iterator[tuple[Path, np.ndarray | Skipped]]:
        """Decode in threads while the model runs (Pillow releases the GIL); at most ``window`` images in
        flight, so memory does not grow with the folder."""
        with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
            yield from ordered_map(pool, lambda path: (path, self._read(path)), paths, window=window)

    def _read(self, path: Path) -> np.ndarray | Skipped:
        try:
            return read_image(path, self.size, self.resize, self.limits)
        except UnusableImage as exc:
            return Skipped(path, str(exc))
        except OSError as exc:
            return Skipped(path, f"cannot read the file ({exc.strerror or exc})")

    def _flush(self, batch: list[tuple[Path, np.ndarray]]) -> Iterator[Prediction]:
        if not batch:
            return
        raw = np.asarray(self.model.predict_on_batch(np.stack([image for _, image in batch]).astype(np.float32)))
        fixed, labels = self.hierarchy.decide(raw, self.thresholds)
        for (path, _), row, chosen in zip(batch, fixed, labels):
            order = np.argsort(-row, kind="stable")
            yield Prediction(
                path, [self.classes[i] for i in order if chosen[i]], {self.classes[i]: float(row[i]) for i in order}
            )

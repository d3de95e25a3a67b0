"""Use a trained model: score image files with the thresholds evaluate chose."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from yerbnet.augment import fit_square
from yerbnet.errors import UserError
from yerbnet.training import CLASSES_FILE

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"}


@dataclass(frozen=True)
class Prediction:
    path: Path
    labels: list[str]            # above threshold, highest score first
    scores: dict[str, float]     # every class


def image_paths(targets: list[Path]) -> list[Path]:
    """Files as given, folders searched recursively for images, in a stable order."""
    found = []
    for target in targets:
        if target.is_dir():
            found += sorted(p for p in target.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif target.exists():
            found.append(target)
        else:
            raise UserError(f"{target}: no such file or folder")
    return found


class Predictor:
    """A loaded model, its class list and per-class thresholds."""

    def __init__(self, model_dir: Path, threshold: float | None = None) -> None:
        import keras  # slow import, kept out of `yerbnet --help`

        model_path = model_dir / "model.keras"
        if not model_path.exists():
            raise UserError(f"{model_path}: not found; train a model first (make run)")
        self.model = keras.models.load_model(model_path, compile=False)
        self.classes: list[str] = json.loads((model_dir / CLASSES_FILE).read_text(encoding="utf-8"))["classes"]
        self.size = int(self.model.input_shape[1])
        thresholds_path = model_dir / "thresholds.json"
        if threshold is not None:
            self.thresholds = np.full(len(self.classes), threshold)
        elif thresholds_path.exists():
            saved = json.loads(thresholds_path.read_text(encoding="utf-8"))
            self.thresholds = np.array([saved.get(c, 0.5) for c in self.classes])
        else:
            self.thresholds = np.full(len(self.classes), 0.5)

    def predict(self, paths: list[Path], batch_size: int = 32) -> Iterator[Prediction | tuple[Path, str]]:
        """Yield a :class:`Prediction` per readable image, or ``(path, reason)`` for one that is not."""
        for start in range(0, len(paths), batch_size):
            batch, kept = [], []
            for path in paths[start:start + batch_size]:
                try:
                    with Image.open(path) as image:
                        batch.append(fit_square(image, self.size, "pad"))
                    kept.append(path)
                except (OSError, UnidentifiedImageError) as exc:
                    yield path, f"not a readable image ({exc.__class__.__name__})"
            if not batch:
                continue
            scores = self.model.predict_on_batch(np.stack(batch).astype(np.float32))
            for path, row in zip(kept, np.asarray(scores)):
                order = np.argsort(-row)
                labels = [self.classes[i] for i in order if row[i] >= self.thresholds[i]]
                yield Prediction(path, labels, {self.classes[i]: float(row[i]) for i in order})

"""What train leaves in ``models/`` and how evaluate and predict read it back.

The folder is self-contained: the model, its class list and how a photo becomes its input
(``resize`` as augment squared it, scrape's ``max_pixels``/``max_side`` guards), so
``yerbnet predict`` sees a photo exactly as training did, without ``data/`` or params.yaml.
"""

from __future__ import annotations

import importlib
import json
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from yerbnet import files
from yerbnet.errors import UserError
from yerbnet.sources.images import PhotoLimits

if TYPE_CHECKING:
    import keras

MODEL_FILE = "model.keras"
CLASSES_FILE = "classes.json"
THRESHOLDS_FILE = "thresholds.json"  # written by evaluate


@dataclass(frozen=True)
class ModelInfo:
    classes: list[str]
    resize: str  # pad | crop | stretch, as augment squared the training photos
    limits: PhotoLimits  # as scrape normalised them
    epoch: int | None = None  # the epoch whose weights were kept (1-based, as Keras prints it)


def write_info(model_dir: Path, info: ModelInfo) -> None:
    files.write_json(
        model_dir / CLASSES_FILE,
        {"classes": info.classes, "resize": info.resize, **asdict(info.limits), "epoch": info.epoch},
    )


def read_info(model_dir: Path) -> ModelInfo:
    path = model_dir / CLASSES_FILE
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        return ModelInfo(
            classes=[str(c) for c in saved["classes"]],
            resize=str(saved["resize"]),
            limits=PhotoLimits(int(saved["max_pixels"]), saved["max_side"]),
            epoch=saved.get("epoch"),
        )
    except FileNotFoundError:
        raise UserError(
            f"{path}: not found; a model folder needs the {CLASSES_FILE} that train writes beside "
            f"{MODEL_FILE} (dvc checkout models, or dvc repro train)"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UserError(
            f"{path}: not a class list written by train ({exc.__class__.__name__}: {exc}); "
            "restore it with dvc checkout models, or rerun dvc repro train"
        ) from None


def load_thresholds(model_dir: Path, classes: list[str]) -> np.ndarray:
    """The evaluate stage's per-class thresholds; 0.5 for every class when it has not run."""
    path = model_dir / THRESHOLDS_FILE
    if not path.exists():
        return np.full(len(classes), 0.5)
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))["thresholds"]
        return np.array([float(saved.get(c, 0.5)) for c in classes])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, AttributeError, TypeError, ValueError):
        raise UserError(
            f'{path}: not a thresholds file (expected {{"thresholds": {{class: number}}}}); rerun the evaluate stage'
        ) from None


def load_model(path: Path) -> keras.Model:
    """The saved Keras model, or one line saying why it cannot be read."""
    import keras

    importlib.import_module("yerbnet.models")  # registers the custom layers (e.g. CaffeStyle) Keras must find

    if not path.is_file():
        raise UserError(f"{path}: not found; train a model first (dvc repro train)")
    try:
        return keras.models.load_model(path, compile=False)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        raise UserError(
            f"{path}: not a readable Keras model ({exc.__class__.__name__}: {str(exc)[:120]}); "
            f"restore it with dvc checkout {path}, or retrain with dvc repro -f train"
        ) from None


def save_backbone_weights(model_path: Path, out: Path) -> str:
    """Write the pretrained-backbone part of a trained model as a ``train.weights`` file; return its name.

    A model trained on one data set (the embedded renderer's, say) then starts another run
    (``train.weights: <out>``) as a local stand-in for ImageNet weights.
    """
    import keras

    model = load_model(model_path)
    backbone = next((layer for layer in model.layers if isinstance(layer, keras.Model)), None)
    if backbone is None:
        raise UserError(
            f"{model_path}: {model.name} has no backbone to export (a model saved before backbones were "
            "nested models); train it again"
        )
    if not out.name.endswith(".weights.h5"):
        raise UserError(f"{out}: the file name must end in .weights.h5 (Keras 3 weights format)")
    with files.atomic_path(out) as tmp:
        tmp.unlink()  # h5py creates the file itself
        backbone.save_weights(tmp)
    return backbone.name

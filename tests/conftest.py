"""Shared fixtures: a tiny encoded data set and its shards, made by the test run itself."""

from pathlib import Path

import pandas as pd
import pytest
from PIL import Image, ImageDraw

from yerbnet.augment import augment_dataset
from yerbnet.encode import Encoded
from yerbnet.params import AugmentParams

TINY_CLASSES = ["Cans", "Cans/Lemon", "No Yerb"]


def _photo(lemon: bool, i: int) -> Image.Image:
    """A grey scene, with a yellow 'can' somewhere when ``lemon``."""
    image = Image.new("RGB", (40, 40), (90 + i % 5 * 10, 90, 90))
    if lemon:
        x = 4 + (i * 7) % 24
        ImageDraw.Draw(image).rectangle((x, 8, x + 10, 32), fill=(240, 210, 30))
    return image


@pytest.fixture
def tiny_shards(tmp_path: Path) -> Path:
    """Shards of 24 train, 8 val and 8 test images at 32 px, half of them showing a lemon can."""
    images = tmp_path / "images"
    images.mkdir()
    rows = []
    for i, split in enumerate(["train"] * 24 + ["val"] * 8 + ["test"] * 8):
        lemon = i % 2 == 1
        _photo(lemon, i).save(images / f"img{i:02d}.jpg")
        rows.append({"image": f"img{i:02d}.jpg", "shortcode": f"p{i}", "split": split, "labels": "[]",
                     "Cans": int(lemon), "Cans/Lemon": int(lemon), "No Yerb": int(not lemon)})
    shards = tmp_path / "shards"
    augment_dataset(Encoded(pd.DataFrame(rows), TINY_CLASSES), images, shards, AugmentParams(copies=0), 32, seed=0)
    return shards


@pytest.fixture(scope="module")
def untrained_model_dir(tmp_path_factory):
    """A factory: a models/ folder as train leaves it, holding a tiny untrained 32 px model for ``classes``."""
    from yerbnet.models import build_model
    from yerbnet.params import TrainParams
    from yerbnet.saved_model import ModelInfo, write_info
    from yerbnet.sources.images import PhotoLimits

    def make(classes: list[str]) -> Path:
        root = tmp_path_factory.mktemp("models")
        build_model(TrainParams(architecture="simple_cnn", cnn_blocks=1, cnn_filters=4), 32, len(classes)).save(
            root / "model.keras")
        write_info(root, ModelInfo(classes, "pad", PhotoLimits(max_pixels=10_000_000, max_side=1440)))
        return root

    return make

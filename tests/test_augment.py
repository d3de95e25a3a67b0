"""augment + the input pipeline, on a tiny encoded data set written by the test itself."""

import hashlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from yerbnet.augment import augment_dataset, fit_square, random_affine
from yerbnet.encode import Encoded
from yerbnet.errors import UserError
from yerbnet.params import AugmentParams
from yerbnet.pipeline import split_dataset

CLASSES = ["Cans", "Cans/Lemon", "No Yerb"]


@pytest.fixture
def encoded(tmp_path) -> tuple[Encoded, object]:
    images = tmp_path / "images"
    images.mkdir()
    rows = []
    for i, split in enumerate(["train"] * 4 + ["val"] * 2 + ["test"] * 2):
        name = f"img{i}.jpg"
        colour = (200, 200, 0) if i % 2 else (20, 120, 20)
        Image.new("RGB", (48, 36), colour).save(images / name)
        lemon = int(i % 2 == 1)
        rows.append({"image": name, "shortcode": f"p{i}", "split": split, "labels": "[]",
                     "Cans": lemon, "Cans/Lemon": lemon, "No Yerb": 1 - lemon})
    return Encoded(pd.DataFrame(rows), CLASSES), images


def _digest(directory) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_only_train_gets_copies_and_counts_match(encoded, tmp_path):
    data, images = encoded
    index = augment_dataset(data, images, tmp_path / "out", AugmentParams(copies=2, shard_size=5), 32, seed=1)
    assert {s: v["records"] for s, v in index["splits"].items()} == {"train": 12, "val": 2, "test": 2}
    assert [s["records"] for s in index["splits"]["train"]["shards"]] == [5, 5, 2]
    assert index["splits"]["train"]["positives"] == [6, 6, 6]


def test_shards_are_byte_identical_whatever_the_number_of_workers(encoded, tmp_path):
    data, images = encoded
    augment_dataset(data, images, tmp_path / "one", AugmentParams(copies=1), 32, seed=3, workers=1)
    augment_dataset(data, images, tmp_path / "four", AugmentParams(copies=1), 32, seed=3, workers=4)
    assert _digest(tmp_path / "one") == _digest(tmp_path / "four")


def test_records_round_trip_through_the_input_pipeline(encoded, tmp_path):
    data, images = encoded
    augment_dataset(data, images, tmp_path / "out", AugmentParams(copies=0), 32, seed=0)
    batches = list(split_dataset(tmp_path / "out", "val", batch_size=8, with_ids=True))
    pixels, targets, ids = (t.numpy() for t in batches[0])
    assert pixels.shape == (2, 32, 32, 3) and pixels.dtype == np.float32
    assert 0 <= pixels.min() and pixels.max() <= 255
    assert [i.decode() for i in ids] == ["img4.jpg", "img5.jpg"]
    assert targets.tolist() == [[0, 0, 1], [1, 1, 0]]
    assert np.abs(pixels[1, 16, 16] - [200, 200, 0]).max() < 10  # the yellow image's centre
    assert pixels[1, 0, 16].max() < 10  # black padding above the 48x36 photo


def test_padding_keeps_the_whole_photo_and_crop_takes_the_centre():
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    padded, cropped = fit_square(image, 20, "pad"), fit_square(image, 20, "crop")
    assert padded.shape == cropped.shape == (20, 20, 3)
    assert padded[0, 10].tolist() == [0, 0, 0] and padded[10, 10].tolist() == [255, 0, 0]
    assert (cropped == [255, 0, 0]).all()


def test_a_zero_turn_zero_shift_affine_is_the_identity():
    pixels = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    same = random_affine(pixels, np.random.default_rng(1), rotation=0, translation=0, fill_mode="nearest")
    assert np.array_equal(same, pixels)


def test_an_undecodable_image_is_named(encoded, tmp_path):
    data, images = encoded
    (images / "img0.jpg").write_text("not a jpeg")
    with pytest.raises(UserError, match="img0.jpg: cannot decode image"):
        augment_dataset(data, images, tmp_path / "out", AugmentParams(), 32, seed=0)


def test_an_empty_split_is_a_clear_error(encoded, tmp_path):
    data, images = encoded
    no_test = Encoded(data.frame[data.frame["split"] != "test"].reset_index(drop=True), CLASSES)
    with pytest.raises(UserError, match="split 'test' has no images"):
        augment_dataset(no_test, images, tmp_path / "out", AugmentParams(), 32, seed=0)

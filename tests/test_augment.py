"""augment + the input pipeline, on a tiny encoded data set written by the test itself."""

import dataclasses
import hashlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from PIL import Image

from yerbnet.augment import (
    INDEX,
    Draw,
    augment_dataset,
    augment_image,
    copies_per_image,
    inverse_affine,
    photometric,
    warp,
)
from yerbnet.encode import Encoded
from yerbnet.errors import UserError
from yerbnet.input_pipeline import apply_draws, split_dataset
from yerbnet.models import build_model
from yerbnet.parallel import ordered_map
from yerbnet.params import AugmentParams, TrainParams, parse_params
from yerbnet.sources.images import fit_square

CLASSES = ["Cans", "Cans/Lemon", "No Yerb"]


@pytest.fixture
def encoded(tmp_path) -> tuple[Encoded, object]:
    images = tmp_path / "images"
    images.mkdir()
    rows = []
    for i, split in enumerate(["train"] * 4 + ["val"] * 2 + ["test"] * 2):
        name = f"img{i}.jpg"
        colour = (200, 200, 0) if i % 2 else (20, 120, 20)
        photo = Image.new("RGB", (48, 36), colour)
        photo.paste((0, 0, 255), (0, 0, 8, 36))  # an edge for the turns and shifts to move
        photo.save(images / name)
        lemon = int(i % 2 == 1)
        rows.append(
            {
                "image": name,
                "shortcode": f"p{i}",
                "split": split,
                "labels": "[]",
                "Cans": lemon,
                "Cans/Lemon": lemon,
                "No Yerb": 1 - lemon,
            }
        )
    return Encoded(pd.DataFrame(rows), CLASSES), images


def _digest(directory) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_only_train_gets_copies_and_counts_match(encoded, tmp_path):
    data, images = encoded
    index = augment_dataset(data, images, tmp_path / "out", AugmentParams(copies=2, shard_size=5), 32, seed=1)
    assert {s: v["records"] for s, v in index["splits"].items()} == {"train": 12, "val": 2, "test": 2}
    assert [s["records"] for s in index["splits"]["train"]["shards"]] == [5, 5, 2]
    assert index["splits"]["train"]["positives"] == [6, 6, 6]
    assert index["splits"]["train"]["images_per_class"] == [2, 2, 2]


def test_images_of_rare_classes_get_more_copies():
    # 8 train images: a flavour in 1 of them (1/8), a family in 4 (1/2), No Yerb in 4.
    targets = np.array([[1, 1, 0]] + [[1, 0, 0]] * 3 + [[0, 0, 1]] * 4)
    # threshold 0.5: the flavour's factor is sqrt(0.5 / 0.125) = 2, the others' 1
    copies = copies_per_image(targets, AugmentParams(copies=3, repeat_threshold=0.5))
    assert copies.tolist() == [7, 3, 3, 3, 3, 3, 3, 3]
    assert copies_per_image(targets, AugmentParams(copies=3)).tolist() == [3] * 8


def test_repeated_copies_reach_the_shards_and_the_loss_counts(encoded, tmp_path):
    data, images = encoded
    # train: Lemon in 2 of 4 images; threshold 1.0 gives them sqrt(1 / 0.5) x 2 records, rounded to 3
    cfg = AugmentParams(copies=1, repeat_threshold=1.0)
    index = augment_dataset(data, images, tmp_path / "out", cfg, 32, seed=1)
    train = index["splits"]["train"]
    assert train["records"] == 2 * 3 + 2 * 3  # No Yerb is in half the images too: same factor
    assert sum(shard["records"] for shard in train["shards"]) == 12
    assert sum(1 for _ in tf.data.TFRecordDataset([str(tmp_path / "out" / s["file"]) for s in train["shards"]])) == 12
    assert train["positives"] == [6, 6, 6]
    assert train["images_per_class"] == [2, 2, 2]
    assert index["splits"]["val"]["records"] == 2


def test_shards_are_byte_identical_whatever_the_number_of_workers(encoded, tmp_path):
    data, images = encoded
    augment_dataset(data, images, tmp_path / "one", AugmentParams(copies=1), 32, seed=3, workers=1)
    augment_dataset(data, images, tmp_path / "four", AugmentParams(copies=1), 32, seed=3, workers=4)
    assert _digest(tmp_path / "one") == _digest(tmp_path / "four")


def test_records_round_trip_through_the_input_pipeline(encoded, tmp_path):
    data, images = encoded
    augment_dataset(data, images, tmp_path / "out", AugmentParams(copies=0, resize="pad"), 32, seed=0)
    batches = list(split_dataset(tmp_path / "out", "val", batch_size=8, with_ids=True))
    pixels, targets, ids = (t.numpy() for t in batches[0])
    assert pixels.shape == (2, 32, 32, 3) and pixels.dtype == np.float32
    assert 0 <= pixels.min() and pixels.max() <= 255
    assert [i.decode() for i in ids] == ["img4.jpg", "img5.jpg"]
    assert targets.tolist() == [[0, 0, 1], [1, 1, 0]]
    assert np.abs(pixels[1, 16, 16] - [200, 200, 0]).max() < 10  # the yellow image's centre
    assert pixels[1, 0, 16].max() < 10  # black padding above the 48x36 photo


def test_padding_keeps_the_whole_photo_crop_takes_the_centre_and_stretch_fills_the_square():
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 4, 20))  # a blue band down the left edge, 4 px of 40
    padded, cropped, stretched = (fit_square(image, 20, mode) for mode in ("pad", "crop", "stretch"))
    assert padded.shape == cropped.shape == stretched.shape == (20, 20, 3)
    assert padded[0, 10].tolist() == [0, 0, 0] and padded[10, 10].tolist() == [255, 0, 0]
    assert (cropped == [255, 0, 0]).all()
    # stretched: no black bars, and the band, a tenth of the width, keeps a tenth of the square
    assert (stretched[:, 0] == [0, 0, 255]).all() and (stretched[:, 10:] == [255, 0, 0]).all()


def test_a_zero_turn_zero_shift_affine_is_the_identity():
    pixels = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    same = augment_image(pixels, np.random.default_rng(1), AugmentParams(rotation=0, translation=0, zoom=0))
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


def test_two_runs_give_byte_identical_shards_and_a_new_seed_changes_only_the_copies(encoded, tmp_path):
    data, images = encoded
    cfg = AugmentParams(copies=1, shard_size=100)
    for name, seed in [("a", 5), ("b", 5), ("c", 6)]:
        augment_dataset(data, images, tmp_path / name, cfg, 32, seed=seed, workers=2)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    changed = {n for n, h in _digest(tmp_path / "a").items() if _digest(tmp_path / "c")[n] != h}
    assert changed == {"train-00000-of-00001.tfrecord"}


def test_the_index_records_the_params_and_an_interrupted_run_leaves_none(encoded, tmp_path):
    data, images = encoded
    out = tmp_path / "out"
    index = augment_dataset(data, images, out, AugmentParams(copies=0, online=True), 32, seed=0)
    assert index["augment"]["online"] is True and (out / INDEX).exists()
    (images / "img7.jpg").write_text("broken")  # a test image: train and val shards get rewritten first
    with pytest.raises(UserError):
        augment_dataset(data, images, out, AugmentParams(copies=0), 32, seed=0)
    assert not (out / INDEX).exists()


def test_ordered_map_keeps_the_order_and_reads_only_a_window_ahead():
    pulled = []

    def numbers():
        for n in range(100):
            pulled.append(n)
            yield n

    with ThreadPoolExecutor(max_workers=2) as pool:
        squares = ordered_map(pool, lambda n: n * n, numbers(), window=3)
        assert next(squares) == 0 and len(pulled) <= 4
        assert list(squares) == [n * n for n in range(1, 100)]


def _smooth_image(size: int = 32) -> np.ndarray:
    noise = np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(noise).resize((size, size), Image.Resampling.BILINEAR))


@pytest.mark.parametrize("fill_mode", ["nearest", "constant", "reflect", "wrap"])
def test_online_and_offline_geometry_agree(fill_mode):
    pixels = _smooth_image()
    d = Draw(turns=0.08, shift_rows=0.1, shift_cols=-0.15, scale=0.8, mirror=-1.0, brightness=0.0, contrast=1.0)
    offline = warp(pixels, *inverse_affine(d, 32), fill_mode)
    batch = Draw(*(tf.constant([float(v)]) for v in dataclasses.astuple(d)))
    online = apply_draws(tf.constant(pixels[None], tf.float32), batch, fill_mode)[0].numpy()
    differs = np.abs(online - offline).max(axis=-1) > 2  # beyond bilinear rounding
    # TF's wrap clamps at the seam instead of blending across it: one-pixel lines differ.
    assert differs.mean() <= (0.1 if fill_mode == "wrap" else 0)


def test_online_and_offline_colour_agree_and_stay_in_range():
    pixels = _smooth_image()
    d = Draw(turns=0.0, shift_rows=0.0, shift_cols=0.0, scale=1.0, mirror=1.0, brightness=60.0, contrast=1.8)
    offline = photometric(pixels, d)
    batch = Draw(*(tf.constant([float(v)]) for v in dataclasses.astuple(d)))
    online = apply_draws(tf.constant(pixels[None], tf.float32), batch, "nearest")[0].numpy()
    assert np.abs(online - offline).max() <= 1
    assert offline.min() == 0 and offline.max() == 255  # clipped, not wrapped around


def test_online_augmentation_draws_anew_each_epoch_reproducibly(encoded, tmp_path):
    data, images = encoded
    augment_dataset(data, images, tmp_path / "out", AugmentParams(copies=0, online=True), 32, seed=0)

    def first_images(augment: bool, epochs: range) -> list[np.ndarray]:
        """Each epoch's images, in the order the pipeline shuffled them to."""
        batches = [
            images.numpy()
            for images, _ in split_dataset(
                tmp_path / "out", "train", batch_size=4, epochs=epochs, seed=9, augment=augment
            )
        ]
        return np.split(np.concatenate(batches), len(epochs))

    first, second = first_images(True, range(2))
    resumed, plain = first_images(True, range(1, 2))[0], first_images(False, range(1))[0]
    assert not np.array_equal(first, second)
    assert np.array_equal(second, resumed)  # epoch 1 looks the same whether or not epoch 0 ran in this process
    assert not np.array_equal(first, plain)
    assert 0 <= first.min() and first.max() <= 255


def test_the_model_sees_the_pipeline_pixels_in_minus_one_to_one(encoded, tmp_path):
    data, images = encoded
    augment_dataset(data, images, tmp_path / "out", AugmentParams(copies=0), 32, seed=0)
    pixels = next(iter(split_dataset(tmp_path / "out", "val", batch_size=2)))[0]
    model = build_model(TrainParams(cnn_blocks=1, cnn_filters=4), 32, len(CLASSES))
    scaled = model.get_layer("to_unit_range")(
        tf.concat([pixels, tf.constant([0.0, 255.0])[:, None, None, None] * tf.ones([2, 32, 32, 3])], axis=0)
    ).numpy()
    assert -1 <= scaled.min() and scaled.max() <= 1
    assert scaled[2].max() == -1 and scaled[3].min() == 1  # black and white ends map onto the ends


@pytest.mark.parametrize(
    "key,value",
    [
        ("copies", -1),
        ("repeat_threshold", 0),
        ("zoom", 2.0),
        ("brightness", 1.5),
        ("flip", 1),
        ("fill_mode", "mirror"),
        ("online", "yes"),
    ],
)
def test_absurd_augment_values_are_rejected_by_name(key, value):
    with pytest.raises(UserError, match=f"augment.{key} = "):
        parse_params({"augment": {key: value}})

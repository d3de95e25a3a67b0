"""`yerbnet predict` on folders with a corrupt file, its formats and exit codes (tiny untrained model)."""

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from yerbnet.cli import main
from yerbnet.errors import UserError
from yerbnet.predict import Predictor, Skipped, image_paths, read_image
from yerbnet.saved_model import load_thresholds
from yerbnet.sources.images import fit_square

CLASSES = ["Cans", "Cans/Slim", "Cans/Slim/Grapefruit Ginger", "No Yerb"]


@pytest.fixture(scope="module")
def model_dir(untrained_model_dir) -> Path:
    return untrained_model_dir(CLASSES)


@pytest.fixture
def photos(tmp_path) -> Path:
    """Three images (one in a subfolder, one wide), a corrupt JPEG and a text file that is not looked at."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    Image.new("RGB", (50, 30), (200, 40, 40)).save(folder / "a.png")
    Image.new("RGB", (64, 64), (40, 200, 40)).save(folder / "b.jpg")
    Image.new("RGB", (20, 20), (40, 40, 200)).save(folder / "sub" / "c.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / "notes.txt").write_text("ignored")
    return folder


def _predict(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["predict", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_folder_with_a_corrupt_file_predicts_the_rest(model_dir, photos, capsys):
    code, out, err = _predict(capsys, str(photos), "--model-dir", str(model_dir))
    assert code == 0
    assert [line.split("\t")[0] for line in out.splitlines()] == [
        str(photos / "a.png"),
        str(photos / "b.jpg"),
        str(photos / "sub" / "c.jpg"),
    ]
    assert f"skipped {photos / 'broken.jpg'}: not an image format Pillow can read" in err


def test_nothing_predictable_exits_non_zero(model_dir, photos, capsys):
    code, out, err = _predict(capsys, str(photos / "broken.jpg"), "--model-dir", str(model_dir))
    assert code == 1 and out == ""
    assert "error: no image could be predicted" in err


def test_a_missing_path_is_one_line_and_exit_2(model_dir, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["predict", str(tmp_path / "nope.jpg"), "--model-dir", str(model_dir)])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nope.jpg'}: no such file or folder"


def test_json_answers_obey_the_hierarchy(model_dir, photos, capsys):
    # A threshold this low predicts every class before the rules are applied.
    code, out, _ = _predict(
        capsys, str(photos), "--model-dir", str(model_dir), "--format", "json", "--threshold", "0.01", "--top-k", "4"
    )
    rows = json.loads(out)
    assert code == 0 and len(rows) == 3
    for row in rows:
        labels = set(row["labels"])
        assert ("No Yerb" in labels) != bool(labels - {"No Yerb"})  # No Yerb xor products
        if "Cans/Slim/Grapefruit Ginger" in labels:
            assert {"Cans", "Cans/Slim"} <= labels
        assert row["scores"]["Cans"] >= row["scores"]["Cans/Slim"] >= row["scores"]["Cans/Slim/Grapefruit Ginger"]


def test_csv_with_top_k_adds_the_best_other_scores(model_dir, photos, capsys):
    code, out, _ = _predict(
        capsys,
        str(photos / "b.jpg"),
        "--model-dir",
        str(model_dir),
        "--format",
        "csv",
        "--top-k",
        "4",
        "--threshold",
        "0.99",
    )
    (header, row) = list(csv.reader(io.StringIO(out)))
    assert header == ["path", "labels", "scores"]
    assert row[1] == "" and len(json.loads(row[2])) == 4  # nothing passes 0.99; the four best shown anyway


def test_batches_keep_the_order_and_report_skips(model_dir, photos):
    predictor = Predictor(model_dir)
    paths = [photos / "a.png", photos / "broken.jpg", photos / "b.jpg", photos / "sub" / "c.jpg"]
    results = list(predictor.predict(paths, batch_size=2))
    assert [r.path for r in results if isinstance(r, Skipped)] == [photos / "broken.jpg"]
    assert [r.path for r in results if not isinstance(r, Skipped)] == [paths[0], paths[2], paths[3]]


def test_thresholds_default_to_half_until_evaluate_writes_them(tmp_path):
    assert load_thresholds(tmp_path, CLASSES).tolist() == [0.5] * 4  # evaluate has not run
    (tmp_path / "thresholds.json").write_text(json.dumps({"mode": "tuned", "thresholds": {"Cans": 0.3}}))
    assert load_thresholds(tmp_path, CLASSES).tolist() == [0.3, 0.5, 0.5, 0.5]
    (tmp_path / "thresholds.json").write_text(json.dumps({"Cans": 0.2}))  # not evaluate's layout
    with pytest.raises(UserError, match="not a thresholds file"):
        load_thresholds(tmp_path, CLASSES)


# Pillow's transposition that undoes each EXIF orientation; storing a photo with its inverse
# is what a phone does when it writes the sensor's pixels and only tags how to turn them.
STORED_AS = {
    3: Image.Transpose.ROTATE_180,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    8: Image.Transpose.ROTATE_270,
}


def _scene(size: tuple[int, int] = (48, 32)) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


@pytest.mark.parametrize("orientation", sorted(STORED_AS))
def test_a_photo_stored_sideways_with_an_exif_tag_scores_as_its_upright_copy(model_dir, tmp_path, orientation):
    upright = _scene()
    upright.save(tmp_path / "upright.png")
    exif = Image.Exif()
    exif[0x0112] = orientation
    upright.transpose(STORED_AS[orientation]).save(tmp_path / "sideways.png", exif=exif)
    first, second = Predictor(model_dir).predict([tmp_path / "upright.png", tmp_path / "sideways.png"])
    assert first.scores == second.scores


def test_predict_sees_odd_photos_as_scrape_stored_them_for_training(model_dir, tmp_path):
    """Transparency, 16-bit grey, CMYK, palettes and TIFF: predict's input matches the training path's."""
    from yerbnet.params import parse_params
    from yerbnet.scrape import scrape
    from yerbnet.sources.manifest import read_manifest

    folder = tmp_path / "photos"
    folder.mkdir()
    ramp = Image.linear_gradient("L").resize((60, 40))
    scene = Image.merge("RGB", (ramp, ramp.transpose(Image.Transpose.ROTATE_180), Image.new("L", (60, 40), 90)))
    transparent = scene.convert("RGBA")
    transparent.putalpha(Image.linear_gradient("L").resize(scene.size))
    transparent.save(folder / "alpha.png")
    Image.fromarray(np.asarray(scene.convert("L"), dtype=np.uint16) * 257).save(folder / "grey16.png")
    scene.convert("CMYK").save(folder / "cmyk.jpg", quality=95)
    scene.convert("P", palette=Image.Palette.ADAPTIVE).save(folder / "palette.gif")
    scene.save(folder / "scan.tif")
    cfg = parse_params({"scrape": {"source": "directory", "directory": str(folder)}}).scrape
    scrape(cfg, seed=0, raw_dir=tmp_path / "raw")
    predictor = Predictor(model_dir)
    for row in read_manifest(tmp_path / "raw").itertuples():
        with Image.open(tmp_path / "raw" / "images" / row.file) as stored:
            trained_on = fit_square(stored, predictor.size, "pad").astype(float)
        seen = read_image(folder / row.original, predictor.size, "pad", predictor.limits).astype(float)
        assert np.abs(seen - trained_on).mean() < 2, row.original  # only scrape's JPEG encoding differs
    assert {p.name for p in image_paths([folder])} == {"alpha.png", "grey16.png", "cmyk.jpg", "palette.gif", "scan.tif"}


def test_a_decompression_bomb_is_skipped_before_its_pixels_are_decoded(model_dir, tmp_path):
    Image.new("1", (4000, 4000)).save(tmp_path / "bomb.png")  # 16 Mpx, over the model's max_pixels of 10 Mpx
    (result,) = Predictor(model_dir).predict([tmp_path / "bomb.png"])
    assert isinstance(result, Skipped) and "decompression bomb" in result.reason


def test_a_model_folder_without_its_class_list_or_with_a_truncated_model_is_one_line(model_dir, tmp_path):
    (tmp_path / "model.keras").write_bytes((model_dir / "model.keras").read_bytes()[:500])
    with pytest.raises(UserError, match=r"classes.json: not found; a model folder needs"):
        Predictor(tmp_path)
    (tmp_path / "classes.json").write_bytes((model_dir / "classes.json").read_bytes())
    with pytest.raises(UserError, match=r"model.keras: not a readable Keras model .*dvc checkout"):
        Predictor(tmp_path)

"""`yerbnet predict` on folders with a corrupt file, its formats and exit codes (tiny untrained model)."""

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from yerbnet.cli import main
from yerbnet.models import build_model
from yerbnet.params import TrainParams
from yerbnet.predict import Predictor, Skipped, load_thresholds

CLASSES = ["Cans", "Cans/Slim", "Cans/Slim/Grapefruit Ginger", "No Yerb"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    build_model(TrainParams(architecture="simple_cnn", cnn_blocks=1, cnn_filters=4), 32, len(CLASSES)).save(
        root / "model.keras")
    (root / "classes.json").write_text(json.dumps({"classes": CLASSES}))
    return root


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
        str(photos / "a.png"), str(photos / "b.jpg"), str(photos / "sub" / "c.jpg")]
    assert f"skipped {photos / 'broken.jpg'}: not a readable image" in err


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
    code, out, _ = _predict(capsys, str(photos), "--model-dir", str(model_dir), "--format", "json",
                            "--threshold", "0.01", "--top-k", "4")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 3
    for row in rows:
        labels = set(row["labels"])
        assert ("No Yerb" in labels) != bool(labels - {"No Yerb"})   # No Yerb xor products
        if "Cans/Slim/Grapefruit Ginger" in labels:
            assert {"Cans", "Cans/Slim"} <= labels
        assert row["scores"]["Cans"] >= row["scores"]["Cans/Slim"] >= row["scores"]["Cans/Slim/Grapefruit Ginger"]


def test_csv_with_top_k_adds_the_best_other_scores(model_dir, photos, capsys):
    code, out, _ = _predict(capsys, str(photos / "b.jpg"), "--model-dir", str(model_dir), "--format", "csv",
                            "--top-k", "4", "--threshold", "0.99")
    (header, row) = list(csv.reader(io.StringIO(out)))
    assert header == ["path", "labels", "scores"]
    assert row[1] == "" and len(json.loads(row[2])) == 4    # nothing passes 0.99; the four best shown anyway


def test_batches_keep_the_order_and_report_skips(model_dir, photos):
    predictor = Predictor(model_dir)
    paths = [photos / "a.png", photos / "broken.jpg", photos / "b.jpg", photos / "sub" / "c.jpg"]
    results = list(predictor.predict(paths, batch_size=2))
    assert [r.path for r in results if isinstance(r, Skipped)] == [photos / "broken.jpg"]
    assert [r.path for r in results if not isinstance(r, Skipped)] == [paths[0], paths[2], paths[3]]


def test_thresholds_file_layouts(tmp_path):
    assert load_thresholds(tmp_path, CLASSES).tolist() == [0.5] * 4            # evaluate has not run
    (tmp_path / "thresholds.json").write_text(json.dumps({"mode": "tuned", "thresholds": {"Cans": 0.3}}))
    assert load_thresholds(tmp_path, CLASSES).tolist() == [0.3, 0.5, 0.5, 0.5]
    (tmp_path / "thresholds.json").write_text(json.dumps({"Cans": 0.2}))      # before the "mode" layout
    assert np.allclose(load_thresholds(tmp_path, CLASSES), [0.2, 0.5, 0.5, 0.5])

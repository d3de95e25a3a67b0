"""`yerbnet export`: the bundle's graph squares photos exactly as predict does, and each format, loaded in a
fresh process without yerbnet, scores photos as the Keras model scores predict's input (tiny untrained model)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from yerbnet.cli import main
from yerbnet.export import FORMATS, square_image
from yerbnet.models import build_model
from yerbnet.params import TrainParams
from yerbnet.predict import read_image
from yerbnet.saved_model import ModelInfo, load_model, load_thresholds, read_info, write_info
from yerbnet.sources.images import PhotoLimits, fit_square, load_rgb

CLASSES = ["Cans", "Cans/Slim", "Cans/Slim/Grapefruit Ginger", "No Yerb"]
LIMITS = PhotoLimits(max_pixels=10_000_000, max_side=200)
# The sizes a photo reaches the graph at: odd and even, wide and tall, shrunk, enlarged, already square.
SHAPES = [(30, 49), (49, 30), (32, 32), (7, 300), (1, 1), (129, 127), (250, 333), (20, 20)]
TOLERANCE = {"savedmodel": 1e-5, "tflite": 1e-3, "onnx": 1e-5}


@pytest.mark.parametrize("resize", ["pad", "crop", "stretch"])
@pytest.mark.parametrize("size", [32, 128])
def test_the_graph_squares_a_photo_exactly_as_fit_square(resize, size):
    rng = np.random.default_rng(size)
    for height, width in SHAPES:
        photo = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        expected = fit_square(Image.fromarray(photo), size, resize)
        got = square_image(tf.constant(photo), size, resize).numpy()
        assert np.array_equal(got, expected), (height, width)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    # test_time_crops: the zoomed views are layers of the model, so every format must carry them
    build_model(
        TrainParams(architecture="simple_cnn", cnn_blocks=1, cnn_filters=4, test_time_crops=0.8), 32, len(CLASSES)
    ).save(root / "model.keras")
    write_info(root, ModelInfo(CLASSES, "pad", LIMITS))
    (root / "thresholds.json").write_text(json.dumps({"mode": "tuned", "thresholds": {"Cans": 0.3}}))
    return root


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[Path]:
    """Photo files of several sizes; one wider than max_side, so load_rgb shrinks it before the graph."""
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(7)
    paths = []
    for i, (height, width) in enumerate([(30, 49), (64, 64), (300, 7), (170, 411)]):
        path = folder / f"p{i}.png"
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def bundles(model_dir, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("export")
    for fmt in FORMATS:
        assert main(["export", "--format", fmt, "--out", str(out / fmt), "--model-dir", str(model_dir)]) == 0
    return {fmt: out / fmt for fmt in FORMATS}


# Runs in a fresh interpreter with only TensorFlow / onnxruntime: the bundle must need nothing from yerbnet.
LOADER = """
import json, sys
import numpy as np
fmt, bundle, images = sys.argv[1], sys.argv[2], np.load(sys.argv[3], allow_pickle=True)
if fmt == "savedmodel":
    import tensorflow as tf
    serve = tf.saved_model.load(bundle + "/savedmodel").signatures["serving_default"]
    scores = [serve(image=tf.constant(image))["scores"].numpy() for image in images]
elif fmt == "tflite":
    import tensorflow as tf
    runner = tf.lite.Interpreter(model_path=bundle + "/model.tflite").get_signature_runner()
    scores = [runner(image=image)["scores"] for image in images]
else:
    import onnxruntime
    session = onnxruntime.InferenceSession(bundle + "/model.onnx", providers=["CPUExecutionProvider"])
    scores = [session.run(["scores"], {"image": image})[0] for image in images]
assert not any(name.startswith("yerbnet") for name in sys.modules)
print(json.dumps([s.tolist() for s in scores]))
"""


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_export_in_a_fresh_process_scores_as_the_keras_model(fmt, bundles, model_dir, photos, tmp_path):
    # Both sides start from the same decoded photos (load_rgb, the host's part); the export squares them in its
    # graph, the Keras model gets predict's own input (read_image: load_rgb then fit_square).
    decoded = np.empty(len(photos), dtype=object)
    decoded[:] = [np.asarray(load_rgb(p.read_bytes(), LIMITS.max_pixels, LIMITS.max_side)) for p in photos]
    np.save(tmp_path / "images.npy", decoded, allow_pickle=True)
    run = subprocess.run(
        [sys.executable, "-c", LOADER, fmt, str(bundles[fmt]), str(tmp_path / "images.npy")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    exported = np.array(json.loads(run.stdout.splitlines()[-1]))

    model = load_model(model_dir / "model.keras")
    keras_scores = model.predict_on_batch(
        np.stack([read_image(p, 32, "pad", LIMITS) for p in photos]).astype(np.float32)
    )
    assert exported.shape == keras_scores.shape == (len(photos), len(CLASSES))
    assert np.abs(exported - keras_scores).max() <= TOLERANCE[fmt]


def test_the_bundle_carries_classes_thresholds_and_rules(bundles, model_dir):
    bundle = bundles["tflite"]
    assert sorted(p.name for p in bundle.iterdir()) == [
        "README.md",
        "classes.json",
        "hierarchy.json",
        "model.tflite",
        "thresholds.json",
    ]
    assert read_info(bundle) == read_info(model_dir)
    assert load_thresholds(bundle, CLASSES).tolist() == [0.3, 0.5, 0.5, 0.5]
    rules = json.loads((bundle / "hierarchy.json").read_text())
    assert rules["parents"] == {"Cans/Slim/Grapefruit Ginger": "Cans/Slim", "Cans/Slim": "Cans"}
    assert rules["exclusive"] == "No Yerb"
    readme = (bundle / "README.md").read_text()
    assert "uint8 [height, width, 3]" in readme and "float32 [4]" in readme and "max_side` (200 px)" in readme


def test_an_export_replaces_an_earlier_bundle_and_leaves_no_temporary_folder(model_dir, tmp_path, capsys):
    out = tmp_path / "bundle"
    for _ in range(2):
        assert main(["export", "--format", "savedmodel", "--out", str(out), "--model-dir", str(model_dir)]) == 0
    assert (out / "savedmodel" / "saved_model.pb").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]
    assert capsys.readouterr().out.startswith(f"{out}: savedmodel (")


def test_an_export_never_replaces_another_folder(model_dir, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit) as exit_:
        main(["export", "--format", "tflite", "--out", str(tmp_path), "--model-dir", str(model_dir)])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: --out {tmp_path}: a folder that is not a yerbnet export (no hierarchy.json); "
        "choose another path or empty it"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]

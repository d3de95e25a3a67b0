"""Every architecture's saved model loads in a fresh process, the way evaluate and predict load it."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from yerbnet.models import BACKBONES, build_model
from yerbnet.params import TrainParams
from yerbnet.saved_model import ModelInfo, write_info
from yerbnet.sources.images import PhotoLimits

CLASSES = ["Bottles", "Cans", "No Yerb"]
SIZE = 75  # Xception's smallest input

# A new interpreter knows only what the loading code itself imports: a custom layer that
# registers itself on import of the building code (models.py) would be missing here.
LOADER = """
import json, sys
from pathlib import Path
from yerbnet.predict import Predictor
from yerbnet.saved_model import load_model
photo = Path(sys.argv[1])
for folder in sys.argv[2:]:
    load_model(Path(folder) / "model.keras")  # evaluate's call
    (result,) = Predictor(Path(folder)).predict([photo])
    print(json.dumps({"folder": folder, "scores": result.scores}))
"""


@pytest.mark.slow
def test_each_architecture_saves_and_loads_in_a_fresh_process(tmp_path):
    folders, expected = [], {}
    photo = tmp_path / "photo.jpg"
    Image.linear_gradient("L").convert("RGB").resize((SIZE, SIZE)).save(photo, quality=100)
    for architecture in BACKBONES:
        folder = tmp_path / architecture
        folder.mkdir()
        model = build_model(
            TrainParams(architecture=architecture, head="gap", cnn_blocks=1, cnn_filters=4), SIZE, len(CLASSES)
        )
        model.save(folder / "model.keras")
        write_info(folder, ModelInfo(CLASSES, "pad", PhotoLimits(max_pixels=1_000_000, max_side=None)))
        folders.append(str(folder))
        expected[str(folder)] = model.output_shape[-1]
    done = subprocess.run([sys.executable, "-c", LOADER, str(photo), *folders], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = [json.loads(line) for line in done.stdout.splitlines()]
    assert [row["folder"] for row in loaded] == folders
    assert all(len(row["scores"]) == expected[row["folder"]] for row in loaded)


def test_a_trained_backbone_becomes_the_weights_file_of_a_new_run(tmp_path, capsys):
    from yerbnet.cli import main

    cfg = TrainParams(architecture="mobilenet_v3_small", head="gap")
    trained = build_model(cfg, 32, len(CLASSES))
    (tmp_path / "models").mkdir()
    trained.save(tmp_path / "models" / "model.keras")
    out = tmp_path / "sim.weights.h5"
    assert main(["backbone", str(out), "--model-dir", str(tmp_path / "models")]) == 0
    assert f"-S train.weights={out}" in capsys.readouterr().out
    started = build_model(TrainParams(architecture="mobilenet_v3_small", head="gap", weights=str(out)), 32, 5)
    backbone = next(layer for layer in trained.layers if hasattr(layer, "layers"))
    assert all(
        np.array_equal(a, b)
        for a, b in zip(started.get_layer(backbone.name).get_weights(), backbone.get_weights(), strict=True)
    )


def test_a_trained_simple_cnn_starts_a_run_of_another_width_only_if_it_fits(tmp_path):
    """The sim-to-real start with the default architecture: same depth, width and stem, or a one-line error."""
    from yerbnet.errors import UserError
    from yerbnet.saved_model import save_backbone_weights

    cfg = TrainParams(cnn_blocks=1, cnn_filters=4)
    build_model(cfg, 32, 3).save(tmp_path / "model.keras")
    assert save_backbone_weights(tmp_path / "model.keras", tmp_path / "sim.weights.h5") == "simple_cnn"
    started = build_model(TrainParams(cnn_blocks=1, cnn_filters=4, weights=str(tmp_path / "sim.weights.h5")), 32, 5)
    assert started.output_shape == (None, 5)
    with pytest.raises(UserError, match="does not fit simple_cnn with cnn_blocks 1, cnn_filters 8"):
        build_model(TrainParams(cnn_blocks=1, cnn_filters=8, weights=str(tmp_path / "sim.weights.h5")), 32, 5)


def test_a_model_without_a_nested_backbone_has_none_to_export(tmp_path):
    import keras

    from yerbnet.errors import UserError
    from yerbnet.saved_model import save_backbone_weights

    flat = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(2, 3), keras.layers.GlobalMaxPooling2D()])
    flat.save(tmp_path / "model.keras")
    with pytest.raises(UserError, match="has no backbone to export"):
        save_backbone_weights(tmp_path / "model.keras", tmp_path / "x.weights.h5")

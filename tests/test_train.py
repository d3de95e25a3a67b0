import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from yerbnet.callbacks import ThroughputLogger
from yerbnet.errors import UserError
from yerbnet.params import TrainParams
from yerbnet.sources.images import PhotoLimits
from yerbnet.train import make_optimizer, plan_phases, train

TINY = TrainParams(architecture="simple_cnn", cnn_blocks=1, cnn_filters=4, batch_size=8, epochs=3, patience=3)


def _train(shards, tmp_path, cfg=TINY):
    return train(
        cfg,
        shards,
        tmp_path / "models" / "model.keras",
        tmp_path / "live",
        tmp_path / "backup",
        seed=0,
        limits=PhotoLimits(max_pixels=10_000_000, max_side=None),
    )


def test_training_saves_the_model_its_classes_and_per_epoch_metrics(tiny_shards, tmp_path):
    _train(tiny_shards, tmp_path)
    model = keras.models.load_model(tmp_path / "models" / "model.keras", compile=False)
    assert model.output_shape == (None, 3)
    assert json.loads((tmp_path / "models" / "classes.json").read_text())["classes"] == [
        "Cans",
        "Cans/Lemon",
        "No Yerb",
    ]
    logged = json.loads((tmp_path / "live" / "metrics.json").read_text())
    assert logged["step"] == 2
    assert {"pr_auc", "macro_f1", "no_yerb_recall", "product_recall"} <= set(logged["eval"])
    assert logged["train"]["images_per_second"] > 0
    assert not (tmp_path / "backup").exists() or not any((tmp_path / "backup").rglob("*.weights.h5"))


def test_two_runs_with_the_same_seed_give_the_same_metrics(tiny_shards, tmp_path):
    first = _train(tiny_shards, tmp_path / "a")
    second = _train(tiny_shards, tmp_path / "b")
    images = np.full((1, 32, 32, 3), 128.0, dtype=np.float32)
    np.testing.assert_allclose(first.predict(images, verbose=0), second.predict(images, verbose=0), rtol=1e-6)


@pytest.fixture
def interrupt_after(monkeypatch):
    """Ctrl-C at the end of the given epoch (0-based), before its snapshot is written."""
    original = ThroughputLogger.on_epoch_end

    def arm(epoch: int) -> None:
        def interrupted(self, current, logs=None):
            original(self, current, logs)
            if current == epoch:
                raise KeyboardInterrupt

        monkeypatch.setattr(ThroughputLogger, "on_epoch_end", interrupted)

    yield arm
    monkeypatch.setattr(ThroughputLogger, "on_epoch_end", original)


def _same_weights(a: keras.Model, b: keras.Model) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights(), strict=True))


def test_an_interrupted_run_resumes_and_ends_with_the_uninterrupted_model(
    tiny_shards, tmp_path, interrupt_after, monkeypatch, capsys
):
    straight = _train(tiny_shards, tmp_path / "straight")
    interrupt_after(1)
    with pytest.raises(KeyboardInterrupt):
        _train(tiny_shards, tmp_path / "resumed")
    monkeypatch.undo()

    shutil.rmtree(tmp_path / "resumed" / "live")  # as `dvc repro` does with a stage's outputs before rerunning it
    snapshot = next((tmp_path / "resumed" / "backup").iterdir())
    (snapshot / "dvclive-2" / "plots").mkdir(parents=True)  # as a kill while copying epoch 2's log would leave it
    resumed = _train(tiny_shards, tmp_path / "resumed")
    assert "resuming the interrupted run" in capsys.readouterr().out
    assert _same_weights(straight, resumed)  # same batches, same dropout masks, same early-stopping state
    # The whole per-epoch log is there, the epoch before the interruption included; only timings differ.
    assert _logged_values(tmp_path / "resumed" / "live") == _logged_values(tmp_path / "straight" / "live")
    logged = json.loads((tmp_path / "resumed" / "live" / "metrics.json").read_text())
    assert logged["step"] == 2  # epochs 2 and 3 ran after the resume, continuing the step count


def _logged_values(live_dir: Path) -> dict[str, str]:
    timings = ("epoch_seconds.tsv", "images_per_second.tsv")
    return {
        str(tsv.relative_to(live_dir)): tsv.read_text() for tsv in live_dir.rglob("*.tsv") if tsv.name not in timings
    }


def test_a_backup_for_other_params_is_not_resumed(tiny_shards, tmp_path, capsys):
    stale = tmp_path / "backup" / "0123456789abcdef"
    stale.mkdir(parents=True)
    (stale / "training_metadata.json").write_text("{}")
    _train(tiny_shards, tmp_path)
    assert "is for other params or data; starting fresh" in capsys.readouterr().out
    assert not stale.exists()


def test_a_batch_larger_than_the_training_set_works(tiny_shards, tmp_path):
    _train(tiny_shards, tmp_path, TrainParams(**{**TINY.__dict__, "batch_size": 256, "epochs": 1}))
    assert (tmp_path / "models" / "model.keras").exists()


def test_a_nan_loss_stops_with_a_message_and_keeps_the_best_model(tiny_shards, tmp_path):
    exploding = TrainParams(**{**TINY.__dict__, "optimizer": "sgd", "learning_rate": 1e30, "lr_schedule": "constant"})
    with pytest.raises(UserError, match="the loss became NaN; kept the model of epoch"):
        _train(tiny_shards, tmp_path, exploding)
    assert (tmp_path / "models" / "model.keras").exists()


def _pretrained(tmp_path) -> tuple[TrainParams, keras.Model]:
    """Params for a MobileNetV2 whose weights come from a file this test saves (nothing is downloaded)."""
    donor = keras.applications.MobileNetV2(include_top=False, weights=None, alpha=0.35, input_shape=(32, 32, 3))
    path = tmp_path / "donor.weights.h5"
    donor.save_weights(path)
    cfg = TrainParams(
        **{
            **TINY.__dict__,
            "architecture": "mobilenet_v2",
            "head": "gap",
            "weights": str(path),
            "warmup_epochs": 1,
            "epochs": 2,
            "unfreeze_layers": 3,
            "learning_rate": 0.01,
            "fine_tune_learning_rate": 0.01,
        }
    )
    return cfg, donor


def test_a_modern_backbone_fine_tunes_in_two_phases_from_a_local_weights_file(tiny_shards, tmp_path):
    donor = keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(32, 32, 3))
    donor.save_weights(tmp_path / "donor.weights.h5")
    cfg = TrainParams(
        **{
            **TINY.__dict__,
            "architecture": "mobilenet_v3_small",
            "head": "gap",
            "warmup_epochs": 1,
            "epochs": 2,
            "unfreeze_layers": 3,
            "weights": str(tmp_path / "donor.weights.h5"),
        }
    )
    model = _train(tiny_shards, tmp_path, cfg)
    backbone = model.get_layer(donor.name)
    changed = [
        layer.name
        for layer in backbone.layers
        if layer.weights
        and any(
            not np.array_equal(a, b) for a, b in zip(layer.get_weights(), donor.get_layer(layer.name).get_weights())
        )
    ]
    assert changed == ["conv_1"]  # the top 3 layers are conv_1, conv_1_bn (BatchNorm stays frozen), activation
    assert json.loads((tmp_path / "live" / "metrics.json").read_text())["step"] == 1  # both phases logged


def test_pretrained_weights_warm_up_the_head_then_fine_tune_the_top_layers_resumably(
    tiny_shards, tmp_path, interrupt_after, monkeypatch
):
    cfg, donor = _pretrained(tmp_path)
    assert [(p.name, list(p.epochs)) for p in plan_phases(cfg)] == [("warmup", [0]), ("fine_tune", [1])]
    straight = _train(tiny_shards, tmp_path / "straight", cfg)
    backbone = straight.get_layer(donor.name)
    changed = {
        layer.name
        for layer in backbone.layers
        if layer.weights
        and any(
            not np.array_equal(a, b) for a, b in zip(layer.get_weights(), donor.get_layer(layer.name).get_weights())
        )
    }
    # The top 3 layers are Conv_1, Conv_1_bn and out_relu; BatchNorm stays frozen, statistics included.
    assert changed == {"Conv_1"}

    interrupt_after(0)  # the last warmup epoch, before its snapshot
    with pytest.raises(KeyboardInterrupt):
        _train(tiny_shards, tmp_path / "resumed", cfg)
    monkeypatch.undo()
    assert _same_weights(straight, _train(tiny_shards, tmp_path / "resumed", cfg))


@pytest.mark.parametrize(("weight_decay", "after"), [(0.0, 1.0), (0.5, 0.95)])
def test_weight_decay_shrinks_weights_apart_from_the_gradient(weight_decay, after):
    """With a zero gradient Adam moves nothing; decoupled decay still takes weight_decay x the rate (0.5 x 0.1)."""
    cfg = TrainParams(weight_decay=weight_decay, lr_schedule="constant")
    weight = keras.Variable(np.ones(3, dtype="float32"))
    make_optimizer(cfg, learning_rate=0.1, steps=10).apply_gradients([(np.zeros(3, dtype="float32"), weight)])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(weight), after, rtol=1e-6)

import json

import keras
import numpy as np
import pytest

from yerbnet.errors import UserError
from yerbnet.params import TrainParams
from yerbnet.training import ThroughputLogger, train

TINY = TrainParams(architecture="simple_cnn", cnn_blocks=1, cnn_filters=4, batch_size=8, epochs=3, patience=3)


def _train(shards, tmp_path, cfg=TINY):
    return train(cfg, shards, tmp_path / "models" / "model.keras", tmp_path / "live", tmp_path / "backup", seed=0)


def test_training_saves_the_model_its_classes_and_per_epoch_metrics(tiny_shards, tmp_path):
    _train(tiny_shards, tmp_path)
    model = keras.models.load_model(tmp_path / "models" / "model.keras", compile=False)
    assert model.output_shape == (None, 3)
    assert json.loads((tmp_path / "models" / "classes.json").read_text())["classes"] == ["Cans", "Cans/Lemon", "No Yerb"]
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


def test_an_interrupted_run_resumes_from_its_last_finished_epoch(tiny_shards, tmp_path, monkeypatch, capsys):
    original = ThroughputLogger.on_epoch_end

    def interrupt_in_epoch_two(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(ThroughputLogger, "on_epoch_end", interrupt_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        _train(tiny_shards, tmp_path)
    monkeypatch.setattr(ThroughputLogger, "on_epoch_end", original)

    _train(tiny_shards, tmp_path)
    assert "resuming the interrupted run" in capsys.readouterr().out
    logged = json.loads((tmp_path / "live" / "metrics.json").read_text())
    assert logged["step"] == 2  # epochs 2 and 3 ran after the resume, continuing the step count


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

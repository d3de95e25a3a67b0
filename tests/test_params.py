import re
from pathlib import Path

import pytest
import yaml

from yerbnet.errors import UserError
from yerbnet.params import Params, changed_from_defaults, load_params, parse_params


def test_the_committed_params_file_is_valid_and_matches_the_defaults():
    params = load_params()
    assert params == Params()
    assert params.train.architecture == "simple_cnn"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"train": {"architecture": "resnet9000"}},
            "train.architecture = 'resnet9000'; allowed: simple_cnn | mobilenet_v2",
        ),
        ({"encode": {"val_fraction": -0.1}}, "encode.val_fraction = -0.1; allowed: a number between 0 and 1"),
        ({"train": {"learning_rat": 0.1}}, "unknown key 'train.learning_rat' (did you mean 'train.learning_rate'?)"),
        ({"train": {"epochs": 0}}, "train.epochs = 0; allowed: an integer > 0"),
        ({"train": {"warmup_epochs": -1}}, "train.warmup_epochs = -1; allowed: an integer >= 0"),
        ({"train": {"weight_decay": -0.05}}, "train.weight_decay = -0.05; allowed: a number >= 0 (0 = off)"),
        ({"train": {"cnn_fine_convs": 5}}, "train.cnn_fine_convs = 5; allowed: an integer from 0 to 4"),
        ({"train": {"unfreeze_layers": "top"}}, "train.unfreeze_layers = 'top'; allowed: an integer | all"),
        ({"train": {"batch_size": "32"}}, "train.batch_size = '32'; allowed: an integer"),
        ({"augment": {"copies": True}}, "augment.copies = True; allowed: an integer"),
        ({"encode": {"val_fraction": 0.5, "test_fraction": 0.5}}, "allowed: less than 1"),
        ({"evaluate": {"threshold": "best"}}, "evaluate.threshold = 'best'"),
        ({"scrape": "synthetic"}, "scrape must be a mapping"),
        ({"seed": -1}, "seed = -1; allowed: an integer from 0 to 4294967295"),
        ({"seed": 2**32}, "seed = 4294967296; allowed: an integer from 0 to 4294967295"),
    ],
)
def test_bad_values_name_the_key_the_value_and_what_is_allowed(raw, message):
    with pytest.raises(UserError, match=re.escape(message)):
        parse_params(raw)


def test_ints_are_accepted_where_numbers_are_wanted_and_tuned_threshold_is_allowed():
    params = parse_params({"train": {"learning_rate": 1}, "evaluate": {"threshold": "tuned"}})
    assert params.train.learning_rate == 1.0
    assert params.evaluate.threshold == "tuned"


def test_a_missing_or_broken_file_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="file not found"):
        load_params(tmp_path / "params.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("train: [unclosed\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_params(broken)


def test_a_partial_file_fills_in_defaults(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"seed": 7, "train": {"epochs": 2}}))
    params = load_params(path)
    assert (params.seed, params.train.epochs, params.train.batch_size) == (7, 2, 8)


def test_numbers_are_read_as_yaml_1_2_the_way_dvc_writes_them(tmp_path):
    """``dvc exp run -S train.learning_rate=0.00005`` writes ``5e-05``, which YAML 1.1 reads as a string."""
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  learning_rate: 5e-05\n  fine_tune_learning_rate: 1e-6\n  epochs: 2\n")
    params = load_params(path)
    assert (params.train.learning_rate, params.train.fine_tune_learning_rate) == (5e-05, 1e-06)


def test_a_duplicated_key_is_one_clear_error(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("seed: 1\nseed: 2\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_params(path)


def test_changed_from_defaults_names_what_an_experiment_changed():
    params = parse_params({"train": {"learning_rate": 5e-05, "epochs": 40}, "augment": {"flip": True}})
    assert changed_from_defaults(params) == {"augment.flip": True, "train.learning_rate": 5e-05}
    assert changed_from_defaults(load_params(Path("params.yaml"))) == {}

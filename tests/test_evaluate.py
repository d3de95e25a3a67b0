"""The evaluate stage end to end on tiny shards and an untrained tiny model (a few seconds)."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from yerbnet import evaluate, metrics, report
from yerbnet.augment import augment_dataset
from yerbnet.cli import main
from yerbnet.encode import Encoded
from yerbnet.evaluate import Outputs
from yerbnet.models import build_model
from yerbnet.params import AugmentParams, EvaluateParams, TrainParams, parse_params
from yerbnet.saved_model import ModelInfo, write_info
from yerbnet.sources.images import PhotoLimits

CLASSES = ["Cans", "Cans/Slim", "Cans/Slim/Grapefruit Ginger", "No Yerb"]


def _shards(root: Path) -> Path:
    """8 train, 8 val (half Grapefruit Ginger), 6 test images, none of them a product."""
    images = root / "images"
    images.mkdir()
    rows = []
    for i, split in enumerate(["train"] * 8 + ["val"] * 8 + ["test"] * 6):
        product = split != "test" and i % 2 == 1
        Image.new("RGB", (40, 40), (200, 180, 40) if product else (90, 90, 90 + 10 * (i % 4))).save(images / f"{i}.jpg")
        rows.append(
            {
                "image": f"{i}.jpg",
                "shortcode": f"p{i}",
                "split": split,
                "labels": "[]",
                "Cans": int(product),
                "Cans/Slim": int(product),
                "Cans/Slim/Grapefruit Ginger": int(product),
                "No Yerb": int(not product),
            }
        )
    augment_dataset(Encoded(pd.DataFrame(rows), CLASSES), images, root / "shards", AugmentParams(copies=0), 32, seed=0)
    return root / "shards"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One tuned evaluation; records what the thresholds were tuned on."""
    root = tmp_path_factory.mktemp("evaluate")
    shards = _shards(root)
    (root / "models").mkdir()
    model_path = root / "models" / "model.keras"
    build_model(TrainParams(architecture="simple_cnn", cnn_blocks=1, cnn_filters=4), 32, len(CLASSES)).save(model_path)
    write_info(root / "models", ModelInfo(CLASSES, "pad", PhotoLimits(max_pixels=10_000_000, max_side=None), epoch=3))
    out = Outputs(
        root / "models" / "thresholds.json",
        root / "live",
        root / "evaluation.json",
        root / "evaluation.md",
        root / "figures",
        root / "model_card.md",
    )
    posts = pd.DataFrame(
        {
            "file": [f"{i}.jpg" for i in range(22)],
            "original": [f"trip/IMG_{i}.JPG" for i in range(22)],
            "source": ["synthetic"] * 22,
            "date_utc": ["2016-01-01T00:00:00Z", "2016-02-01T00:00:00Z"] * 11,
        }
    )
    tuned_on = []
    with pytest.MonkeyPatch.context() as patch:
        tune = metrics.tune_thresholds
        patch.setattr(metrics, "tune_thresholds", lambda y, s: tuned_on.append(y) or tune(y, s))
        run = evaluate.run_info(parse_params({"train": {"epochs": 3}}), shards)
        results = evaluate.evaluate(
            EvaluateParams(threshold="tuned", worst_errors=2), model_path, shards, out, posts=posts, run=run
        )
    return root, out, results, tuned_on


def test_thresholds_are_tuned_on_val_and_saved_for_predict(run):
    root, out, results, tuned_on = run
    (val_targets,) = tuned_on
    assert val_targets[:, 2].tolist() == [0, 1] * 4  # the val split's labels, not test's (all 0)
    saved = json.loads(out.thresholds.read_text())
    assert saved["mode"] == "tuned" and list(saved["thresholds"]) == CLASSES
    per_class = results["per_class"]["Cans.Slim.Grapefruit Ginger"]
    assert per_class["threshold"] == saved["thresholds"]["Cans/Slim/Grapefruit Ginger"]


def test_the_model_card_warns_of_synthetic_data_and_of_classes_with_few_test_images(run):
    _, out, _, _ = run
    card = out.model_card.read_text()
    assert "Source: synthetic; 22 photos scraped, posts dated 2016-01-01 to 2016-02-01" in card
    assert "drawn by code" in card and "- Cans/Slim/Grapefruit Ginger: 0 test images" in card


def test_classes_without_test_positives_are_marked_and_nothing_is_nan(run):
    _, out, results, _ = run
    details = json.loads(out.details.read_text())
    assert details == json.loads(json.dumps(results))
    assert not any(isinstance(v, float) and math.isnan(v) for v in _leaves(details))
    assert details["per_class"]["Cans.Slim.Grapefruit Ginger"]["supported"] == 0
    assert details["per_class"]["No Yerb"]["supported"] == 1
    assert details["classes_present"] == 1
    assert "n/a (no test positives)" in out.report.read_text()


def _leaves(tree):
    for value in tree.values() if isinstance(tree, dict) else tree if isinstance(tree, list) else [tree]:
        yield from _leaves(value) if isinstance(value, (dict, list)) else [value]


def test_the_dvc_metric_is_the_summary_macro_f1_first_and_per_class_f1(run):
    _, out, results, _ = run
    logged = json.loads((out.live / "metrics.json").read_text())
    assert list(logged) == [
        "macro_f1",
        "macro_f1_at_half",
        "micro_f1",
        "no_yerb_f1",
        "macro_pr_auc",
        "subset_accuracy",
        "test_images",
        "per_class_f1",
    ]
    assert list(logged["per_class_f1"]) == ["Cans", "Cans.Slim", "Cans.Slim.Grapefruit Ginger", "No Yerb"]
    assert logged["macro_f1"] == results["macro_f1"] and logged["no_yerb_f1"] == results["per_class"]["No Yerb"]["f1"]


def test_the_details_hold_both_threshold_views_the_rule_counts_and_the_run(run):
    _, out, _, _ = run
    details = json.loads(out.details.read_text())
    for view in ("at_half", "at_tuned"):
        assert set(details[view]) >= {
            "macro_f1",
            "micro_f1",
            "weighted_f1",
            "samples_f1",
            "subset_accuracy",
            "hamming_loss",
            "macro_pr_auc",
            "per_class",
        }
        assert set(details[view]["per_class"]["Cans.Slim"]) == {"precision", "recall", "f1", "threshold"}
    assert details["at_half"]["per_class"]["Cans"]["threshold"] == 0.5
    assert set(details["rule_breaks"]) == {
        "parent_scored_below_child",
        "child_without_parent",
        "no_yerb_with_product",
        "any_rule",
    }
    assert details["test_images"] == 6 and details["restored_epoch"] == 3
    assert details["per_class"]["Cans.Slim.Grapefruit Ginger"]["val_support"] == 4
    low, high = details["macro_f1_interval"]
    assert 0 <= low <= details["macro_f1"] <= high <= 1
    assert details["run"]["changed_params"] == {"train.epochs": 3}


def test_the_report_names_the_run_counts_images_and_flags_untuned_thresholds(run):
    _, out, _, _ = run
    text = out.report.read_text()
    assert "- experiment: workspace" in text and "`train.epochs=3`" in text and "sha256 " in text
    assert "- model: the weights of epoch 3" in text
    assert "95 % bootstrap interval" in text
    assert "| Cans/Slim/Grapefruit Ginger | 0 | 4 | 0.50 * |" in text  # 4 val images: not tuned
    assert "| Cans | 4 | 4 | 0 |" in text
    assert "[F1 per class](figures/per_class_f1.png)" in text


def test_counts_are_images_not_augmented_records():
    # repeat-factor copies: the rare class's 2 images have 8 records, so records / images does not say it
    index = {
        "splits": {
            "train": {"images": 10, "records": 40, "images_per_class": [2, 10], "positives": [8, 40]},
            "test": {"images": 5, "records": 5, "images_per_class": [1, 5], "positives": [1, 5]},
        }
    }
    assert report.image_counts(index) == {"train": [2, 10], "test": [1, 5]}


def test_plots_and_report_are_written(run):
    _, out, _, _ = run
    plots = out.live / "plots"
    assert not (plots / "sklearn" / "confusion").exists()
    assert [p.name for p in (plots / "sklearn" / "precision_recall").iterdir()] == ["No Yerb.json"]
    pr = json.loads((plots / "sklearn" / "precision_recall" / "No Yerb.json").read_text())
    assert pr["precision_recall"]
    bars = json.loads((plots / "custom" / "per_class_f1.json").read_text())
    assert {b["class"] for b in bars} == {"Cans (0)", "Cans/Slim (0)", "Cans/Slim/Grapefruit Ginger (0)", "No Yerb (6)"}
    mistakes = json.loads((plots / "custom" / "mistakes.json").read_text())
    assert all(set(m) == {"actual", "predicted"} for m in mistakes)
    assert sorted(p.name for p in out.figures.iterdir()) == [
        "mistakes.png",
        "per_class_f1.png",
        "precision_recall.png",
        "worst_errors.png",
    ]
    assert "## Largest confusions" in out.report.read_text()


def test_worst_errors_take_the_most_confident_mistakes_one_per_image():
    y_true = np.array([[0, 1], [0, 1], [1, 0]])
    y_pred = np.array([[1, 0], [1, 1], [0, 0]])
    scores = np.array([[0.6, 0.1], [0.9, 0.8], [0.2, 0.3]])
    assert evaluate.worst(y_true, scores, y_pred, 1) == [(1, 0, "false positive"), (0, 1, "false negative")]
    # image 1 is both the worst false positive and the worst false negative: it is shown once
    assert evaluate.worst(y_true, scores, y_pred, 3) == [
        (1, 0, "false positive"),
        (0, 0, "false positive"),
        (2, 0, "false negative"),
    ]


def test_report_command_prints_the_latest_tables(run, capsys):
    root, out, _, _ = run
    assert main(["report", "--details", str(out.details)]) == 0
    printed = capsys.readouterr().out
    assert "| macro_f1 |" in printed and "| Cans/Slim/Grapefruit Ginger | 0 |" in printed

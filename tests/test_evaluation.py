"""The evaluate stage end to end on tiny shards and an untrained tiny model (a few seconds)."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from yerbnet import evaluation, metrics
from yerbnet.augment import augment_dataset
from yerbnet.cli import main
from yerbnet.encode import Encoded
from yerbnet.evaluation import Outputs
from yerbnet.models import build_model
from yerbnet.params import AugmentParams, EvaluateParams, TrainParams

CLASSES = ["Cans", "Cans/Slim", "Cans/Slim/Grapefruit Ginger", "No Yerb"]


def _shards(root: Path) -> Path:
    """8 train, 8 val (half Grapefruit Ginger), 6 test images, none of them a product."""
    images = root / "images"
    images.mkdir()
    rows = []
    for i, split in enumerate(["train"] * 8 + ["val"] * 8 + ["test"] * 6):
        product = split != "test" and i % 2 == 1
        Image.new("RGB", (40, 40), (200, 180, 40) if product else (90, 90, 90 + 10 * (i % 4))).save(images / f"{i}.jpg")
        rows.append({"image": f"{i}.jpg", "shortcode": f"p{i}", "split": split, "labels": "[]",
                     "Cans": int(product), "Cans/Slim": int(product), "Cans/Slim/Grapefruit Ginger": int(product),
                     "No Yerb": int(not product)})
    augment_dataset(Encoded(pd.DataFrame(rows), CLASSES), images, root / "shards", AugmentParams(copies=0), 32,
                    seed=0)
    return root / "shards"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One tuned evaluation; records what the thresholds were tuned on."""
    root = tmp_path_factory.mktemp("evaluate")
    shards = _shards(root)
    (root / "models").mkdir()
    model_path = root / "models" / "model.keras"
    build_model(TrainParams(architecture="simple_cnn", cnn_blocks=1, cnn_filters=4), 32, len(CLASSES)).save(model_path)
    (root / "models" / "classes.json").write_text(json.dumps({"classes": CLASSES}))
    out = Outputs(root / "models" / "thresholds.json", root / "live", root / "evaluation.md", root / "figures",
                  root / "model_card.md")
    posts = pd.DataFrame({"source": ["synthetic"] * 2, "date_utc": ["2016-01-01T00:00:00Z", "2016-02-01T00:00:00Z"]})
    tuned_on = []
    with pytest.MonkeyPatch.context() as patch:
        tune = metrics.tune_thresholds
        patch.setattr(metrics, "tune_thresholds", lambda y, s: tuned_on.append(y) or tune(y, s))
        results = evaluation.evaluate(EvaluateParams(threshold="tuned", worst_errors=2), model_path, shards, out,
                                      posts=posts)
    return root, out, results, tuned_on


def test_thresholds_are_tuned_on_val_and_saved_for_predict(run):
    root, out, results, tuned_on = run
    (val_targets,) = tuned_on
    assert val_targets[:, 2].tolist() == [0, 1] * 4          # the val split's labels, not test's (all 0)
    saved = json.loads(out.thresholds.read_text())
    assert saved["mode"] == "tuned" and list(saved["thresholds"]) == CLASSES
    per_class = results["per_class"]["Cans.Slim.Grapefruit Ginger"]
    assert per_class["threshold"] == saved["thresholds"]["Cans/Slim/Grapefruit Ginger"]


def test_the_model_card_warns_of_synthetic_data_and_of_classes_with_few_test_images(run):
    _, out, _, _ = run
    card = out.model_card.read_text()
    assert "Source: synthetic; 2 photos scraped, posts dated 2016-01-01 to 2016-02-01" in card
    assert "drawn by code" in card and "- Cans/Slim/Grapefruit Ginger: 0 test images" in card


def test_classes_without_test_positives_are_marked_and_nothing_is_nan(run):
    _, out, results, _ = run
    logged = json.loads((out.live / "metrics.json").read_text())
    flat = evaluation.flatten(logged)
    assert not any(isinstance(v, float) and math.isnan(v) for v in flat.values())
    assert logged["per_class"]["Cans.Slim.Grapefruit Ginger"]["supported"] == 0
    assert logged["per_class"]["No Yerb"]["supported"] == 1
    assert logged["classes_present"] == 1
    assert "n/a (no test positives)" in out.report.read_text()


def test_metrics_file_holds_both_threshold_views_and_the_rule_counts(run):
    _, out, _, _ = run
    logged = json.loads((out.live / "metrics.json").read_text())
    for view in ("at_half", "at_tuned"):
        assert set(logged[view]) >= {"macro_f1", "micro_f1", "weighted_f1", "samples_f1", "subset_accuracy",
                                     "hamming_loss", "macro_pr_auc", "per_class"}
        assert set(logged[view]["per_class"]["Cans.Slim"]) == {"precision", "recall", "f1", "threshold"}
    assert logged["at_half"]["per_class"]["Cans"]["threshold"] == 0.5
    assert set(logged["rule_breaks"]) == {"parent_scored_below_child", "child_without_parent",
                                          "no_yerb_with_product", "any_rule"}
    assert logged["test_images"] == 6


def test_plots_and_report_are_written(run):
    _, out, _, _ = run
    plots = out.live / "plots"
    assert (plots / "sklearn" / "confusion" / "Cans.Slim.Grapefruit Ginger.json").exists()
    assert [p.name for p in (plots / "sklearn" / "precision_recall").iterdir()] == ["No Yerb.json"]
    bars = json.loads((plots / "custom" / "per_class_f1.json").read_text())
    assert {b["class"] for b in bars} == set(CLASSES)
    assert sorted(p.name for p in out.figures.iterdir()) == ["per_class_f1.png", "precision_recall.png",
                                                             "worst_errors.png"]
    assert "## Largest confusions" in out.report.read_text()


def test_worst_errors_take_the_most_confident_mistakes_one_per_image():
    y_true = np.array([[0, 1], [0, 1], [1, 0]])
    y_pred = np.array([[1, 0], [1, 1], [0, 0]])
    scores = np.array([[0.6, 0.1], [0.9, 0.8], [0.2, 0.3]])
    assert evaluation.worst(y_true, scores, y_pred, 1) == [(1, 0, "false positive"), (0, 1, "false negative")]


def test_report_command_prints_the_latest_tables(run, capsys):
    root, out, _, _ = run
    assert main(["report", "--metrics", str(out.live / "metrics.json"), "--model-dir", str(root / "models")]) == 0
    printed = capsys.readouterr().out
    assert "| macro_f1 |" in printed and "| Cans/Slim/Grapefruit Ginger | 0 |" in printed

"""Metrics against hand-computed cases, the key scheme, threshold tuning and the hierarchy rules."""

import math

import numpy as np
import pytest

from yerbnet import metrics
from yerbnet.errors import UserError

CLASSES = ["Cans", "Cans/Slim", "Cans/Slim/Grapefruit Ginger", "No Yerb"]


def test_keys_keep_awkward_names_apart():
    keys = [metrics.metric_key(c) for c in CLASSES]
    assert keys == ["Cans", "Cans.Slim", "Cans.Slim.Grapefruit Ginger", "No Yerb"]
    metrics.check_keys(CLASSES)  # no collision


def test_a_class_named_with_a_dot_collides_and_is_refused():
    with pytest.raises(UserError, match="'Cans/Slim' and 'Cans.Slim' share the metric key 'Cans.Slim'"):
        metrics.check_keys(["Cans/Slim", "Cans.Slim"])


# Four images, two classes. Class 0: TP, FN, TN, FP. Class 1: one FP, no positives at all.
Y_TRUE = np.array([[1, 0], [1, 0], [0, 0], [0, 0]])
Y_PRED = np.array([[1, 0], [0, 0], [0, 0], [1, 1]])
SCORES = np.array([[0.9, 0.1], [0.3, 0.2], [0.1, 0.1], [0.8, 0.7]])


def test_per_class_by_hand():
    m = metrics.per_class(Y_TRUE, Y_PRED, SCORES, ["A", "B"])
    # A: TP=1 FP=1 FN=1 -> P=R=F1=0.5; ranked scores 0.9(+) 0.8(-) 0.3(+) 0.1(-): AP = 0.5*1 + 0.5*(2/3)
    assert m["A"] == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2, "average_precision": 0.5 + 1 / 3, "supported": 1}
    )


def test_a_class_without_positives_is_unsupported_not_nan():
    m = metrics.per_class(Y_TRUE, Y_PRED, SCORES, ["A", "B"])["B"]
    assert m == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "average_precision": 0.0, "supported": 0}
    summary = metrics.overall(Y_TRUE, Y_PRED, SCORES)
    assert not any(math.isnan(v) for v in summary.values())
    assert summary["classes_present"] == 1
    assert summary["macro_f1"] == pytest.approx(0.5)  # over A only
    assert summary["macro_pr_auc"] == pytest.approx(0.5 + 1 / 3)


def test_overall_by_hand():
    s = metrics.overall(Y_TRUE, Y_PRED, SCORES)
    # pooled: TP=1, FP=2, FN=1 -> micro P=1/3, R=1/2, F1=0.4
    assert s["micro_f1"] == pytest.approx(0.4)
    assert s["weighted_f1"] == pytest.approx(0.5)  # all weight on A
    assert s["subset_accuracy"] == pytest.approx(2 / 4)  # rows 0 and 2 exactly right
    assert s["hamming_loss"] == pytest.approx(3 / 8)  # 3 wrong cells of 8
    # per image F1: 1, 0 (missed), 0 (empty truth and prediction counts 0), 0 -> 0.25
    assert s["samples_f1"] == pytest.approx(0.25)


def test_thresholds_take_the_middle_of_the_best_range_not_its_lowest_end():
    y_val = np.array([[1, 0]] * 5 + [[0, 0]] * 5)
    s_val = np.array([[0.80, 0.9]] * 5 + [[0.30, 0.9]] * 5)
    thresholds = metrics.tune_thresholds(y_val, s_val)
    # Every threshold in (0.30, 0.80] separates perfectly: the grid's 0.31 ... 0.80, middle 0.55.
    assert thresholds[0] == pytest.approx(0.55)
    assert thresholds[1] == 0.5  # no positives: left at 0.5


def test_few_validation_positives_or_an_inseparable_class_keep_half():
    y_val = np.zeros((60, 3), dtype=int)
    y_val[:4, 0] = 1  # 4 positives: below the floor of 5
    y_val[:8, 1] = 1  # 8 positives the model scores lowest of all
    y_val[:8, 2] = 1
    s_val = np.column_stack(
        [np.where(y_val[:, 0], 0.2, 0.1), np.where(y_val[:, 1], 0.05, 0.15), np.where(y_val[:, 2], 0.3, 0.1)]
    )
    thresholds = metrics.tune_thresholds(y_val, s_val)
    # Class 1's best F1 is "everything is positive": 2*8 / (2*8 + 52) = 0.24 < 0.3.
    assert thresholds[0] == 0.5 and thresholds[1] == 0.5
    assert thresholds[2] == pytest.approx(0.2)  # separable, enough support: tuned, mid-range


def test_the_middle_of_the_longest_run_of_best_values():
    assert metrics.middle_of_best_run(np.array([0.9, 0.5, 0.9, 0.9, 0.9, 0.2])) == 3
    assert metrics.middle_of_best_run(np.array([0.1, 0.7, 0.7])) == 1
    assert metrics.middle_of_best_run(np.array([0.3])) == 0


def test_confusions_pair_what_was_missed_with_what_came_instead():
    classes = ["Cans", "Cans/Gold", "Cans/Lemon", "No Yerb"]
    y_true = np.array([[1, 1, 0, 0], [0, 0, 0, 1], [1, 0, 1, 0]])
    y_pred = np.array([[1, 0, 1, 0], [1, 0, 1, 0], [0, 0, 0, 1]])
    counts = metrics.confusions(y_true, y_pred, classes)
    assert counts[("Cans/Gold", "Cans/Lemon")] == 1  # parent right on both sides: not listed
    assert counts[("No Yerb", "Cans")] == 1 and counts[("No Yerb", "Cans/Lemon")] == 1
    assert counts[("Cans", "No Yerb")] == 1 and counts[("Cans/Lemon", "No Yerb")] == 1
    assert sum(counts.values()) == 5

"""Scores become answers that respect the class tree: the rules evaluate and predict share."""

import numpy as np
import pytest

from yerbnet.classtree.decisions import Hierarchy

CLASSES = ["Cans", "Cans/Slim", "Cans/Slim/Grapefruit Ginger", "No Yerb"]
TREE = Hierarchy.of(CLASSES)


def test_a_parent_is_raised_to_its_best_child_through_the_chain():
    fixed = TREE.scores(np.array([[0.1, 0.2, 0.9, 0.0]]))
    assert fixed[0].tolist() == pytest.approx([0.9, 0.9, 0.9, 0.0])


def test_no_yerb_against_a_product_the_higher_score_wins():
    raw = np.array(
        [
            [0.6, 0.1, 0.1, 0.9],  # No Yerb higher: the product goes
            [0.9, 0.1, 0.1, 0.6],  # product higher: No Yerb goes
            [0.7, 0.1, 0.1, 0.7],
        ]
    )  # tie: the product stays
    _, labels = TREE.decide(raw, 0.5)
    assert labels.tolist() == [[0, 0, 0, 1], [1, 0, 0, 0], [1, 0, 0, 0]]


def test_a_child_above_its_threshold_brings_its_parents_even_with_higher_parent_thresholds():
    _, labels = TREE.decide(np.array([[0.3, 0.3, 0.3, 0.0]]), np.array([0.9, 0.9, 0.2, 0.5]))
    assert labels.tolist() == [[1, 1, 1, 0]]


def test_every_decision_obeys_the_rules_on_random_scores():
    rng = np.random.default_rng(0)
    raw = rng.random((500, len(CLASSES)))
    fixed, labels = TREE.decide(raw, rng.uniform(0.05, 0.95, len(CLASSES)))
    for child, parent in TREE.links:
        assert (fixed[:, parent] >= fixed[:, child]).all()
        assert (labels[:, parent] >= labels[:, child]).all()
    assert not (labels[:, 3] & labels[:, :3].any(axis=1)).any()


def test_violations_count_images_not_pairs():
    raw = np.array(
        [
            [0.2, 0.8, 0.9, 0.0],  # parent below child (twice) and children without parents
            [0.9, 0.1, 0.0, 0.8],  # No Yerb with a product
            [0.9, 0.8, 0.7, 0.0],
        ]
    )  # fine
    assert TREE.violations(raw, 0.5) == {
        "parent_scored_below_child": 1,
        "child_without_parent": 1,
        "no_yerb_with_product": 1,
        "any_rule": 2,
    }

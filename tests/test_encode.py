import json

import numpy as np
import pandas as pd
import pytest

from yerbnet.encode import apply_rules, decode, encode, fold_rare, group_ids, multi_hot, read_encoded, write_encoded
from yerbnet.errors import UserError
from yerbnet.params import EncodeParams
from yerbnet.taxonomy import LEAVES, all_classes

CLASSES = all_classes()


def test_multi_hot_then_decode_is_the_identity():
    labels = apply_rules(["Cans/Slim/Cranpom", "Bottles/Mint"], {})
    row = multi_hot(labels, CLASSES)
    assert sum(row) == 5
    assert decode(row, CLASSES) == labels


def test_rules_add_ancestors_drop_no_yerb_beside_a_product_and_merge_subtrees():
    assert apply_rules(["Cans/Slim/Gold"], {}) == ["Cans", "Cans/Slim", "Cans/Slim/Gold"]
    assert apply_rules(["No Yerb", "Bottles/Mint"], {}) == ["Bottles", "Bottles/Mint"]
    assert apply_rules(["Cans/Slim/Gold"], {"Cans/Slim": "Cans/Other"}) == ["Cans", "Cans/Other"]


def test_rare_classes_fold_into_their_parents_other_until_every_class_meets_the_floor():
    label_sets = [apply_rules([label], {}) for label in
                  ["Cans/Slim/Gold"] * 5 + ["Cans/Slim/Other"] * 3 + ["Cans/Slim/Cranpom"] * 1]
    folded, folds = fold_rare(label_sets, min_count=3)
    assert folds == {"Cans/Slim/Cranpom": "Cans/Slim/Other"}
    assert folded[-1] == ["Cans", "Cans/Slim", "Cans/Slim/Other"]


def test_carousel_items_and_identical_images_share_a_group():
    groups = group_ids(["p1", "p1", "p2", "p3"], ["h1", "h2", "h3", "h1"])
    assert groups[0] == groups[1] == groups[3]
    assert groups[2] != groups[0]


def _dataset(images_per_post: int = 1, posts: int = 300):
    """A labelled data set in which every post repeats one label pattern over its carousel."""
    rng = np.random.default_rng(0)
    rows, labels = [], {}
    for post in range(posts):
        leaf = LEAVES[rng.integers(len(LEAVES))]
        for item in range(images_per_post):
            name = f"post{post:04d}_{item}.jpg"
            rows.append({"file": name, "shortcode": f"sc{post:04d}", "sha256": f"{post}-{item}"})
            labels[name] = [leaf]
    return labels, pd.DataFrame(rows)


def test_splits_never_share_a_post_and_follow_the_fractions():
    labels, manifest = _dataset(images_per_post=3)
    encoded, report = encode(labels, manifest, EncodeParams(), seed=1)
    splits_per_post = encoded.frame.groupby("shortcode")["split"].nunique()
    assert (splits_per_post == 1).all()
    assert report["images"]["train"] + report["images"]["val"] + report["images"]["test"] == 900
    assert report["images"]["test"] == pytest.approx(0.15 * 900, abs=30)


def test_stratification_puts_every_class_in_every_split():
    labels, manifest = _dataset()
    encoded, report = encode(labels, manifest, EncodeParams(), seed=3)
    for split in ("train", "val", "test"):
        assert all(report["counts"][split][c] > 0 for c in encoded.classes), split


def test_encoding_is_reproducible_and_round_trips_through_disk(tmp_path):
    labels, manifest = _dataset()
    first, report = encode(labels, manifest, EncodeParams(), seed=5)
    second, _ = encode(labels, manifest, EncodeParams(), seed=5)
    pd.testing.assert_frame_equal(first.frame, second.frame)
    write_encoded(first, report, tmp_path)
    back = read_encoded(tmp_path)
    assert back.classes == first.classes
    assert np.array_equal(back.targets("test"), first.targets("test"))
    assert json.loads((tmp_path / "classes.json").read_text())["counts"]["train"]["Cans"] > 0


def test_nothing_labelled_is_a_clear_error():
    _, manifest = _dataset(posts=5)
    with pytest.raises(UserError, match="no labelled image"):
        encode({}, manifest, EncodeParams(), seed=0)

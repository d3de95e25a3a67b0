import json

import numpy as np
import pandas as pd
import pytest

from yerbnet.classtree import taxonomy
from yerbnet.classtree.taxonomy import LEAVES, all_classes
from yerbnet.encode import (
    SPLITS,
    apply_rules,
    decode,
    encode,
    fold_rare,
    group_ids,
    merge_label,
    multi_hot,
    read_encoded,
    write_distribution,
    write_encoded,
)
from yerbnet.errors import UserError
from yerbnet.params import EncodeParams

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
    label_sets = [
        apply_rules([label], {})
        for label in ["Cans/Slim/Gold"] * 5 + ["Cans/Slim/Other"] * 3 + ["Cans/Slim/Cranpom"] * 1
    ]
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


def test_the_most_specific_merge_wins_and_merges_chain():
    merge = {"Cans/Slim": "Cans/Other", "Cans/Slim/Gold": "Cans/Lemon", "Cans/Lemon": "Cans/Revelberry"}
    assert merge_label("Cans/Slim/Cranpom", merge) == "Cans/Other"
    assert merge_label("Cans/Slim/Gold", merge) == "Cans/Revelberry"
    assert merge_label("Cans/Slim", {"Cans/Slim": "Cans/Slim/Other"}) == "Cans/Slim/Other"  # into its own subtree


def test_a_merge_cycle_is_a_clear_error():
    with pytest.raises(UserError, match="encode.merge sends Cans/Lemon -> Cans/Other -> Cans/Lemon, a cycle"):
        merge_label("Cans/Lemon", {"Cans/Lemon": "Cans/Other", "Cans/Other": "Cans/Lemon"})


def test_classes_json_says_which_merges_and_folds_happened_to_how_many_images():
    labels, manifest = _dataset()
    labels["post0000_0.jpg"] = ["No Yerb", "Bottles/Mint"]
    cfg = EncodeParams(merge={"Cans/Slim/Gold": "Cans/Slim/Other", "Cans/Typo": "Cans/Other"}, min_count=25)
    encoded, report = encode(labels, manifest, cfg, seed=0)
    golds = sum(labels_ == ["Cans/Slim/Gold"] for labels_ in labels.values())
    assert report["merges"]["Cans/Slim/Gold"] == {"to": "Cans/Slim/Other", "images": golds}
    assert report["merges"]["Cans/Typo"]["images"] == 0  # a merge that matched nothing shows up
    assert report["folds"] and all(fold["images"] < 25 for fold in report["folds"].values())
    assert "Cans/Slim/Gold" not in encoded.classes
    assert report["no_yerb_conflicts"] == 1
    total = {c: sum(report["counts"][s][c] for s in SPLITS) for c in encoded.classes}
    assert sorted(c for c, n in total.items() if n < 25) == report["below_min_count"]
    assert all(taxonomy.parent(c) is None for c in report["below_min_count"])  # only roots have nowhere to fold


def _random_dataset(rng: np.random.Generator, posts: int) -> tuple[dict[str, list[str]], pd.DataFrame]:
    """Carousels of 1-4 images with 0-3 labels each (any depth), and some byte-identical reposts."""
    names = sorted(all_classes())
    labels, rows = {}, []
    for post in range(posts):
        for item in range(rng.integers(1, 5)):
            name = f"p{post:04d}_{item}.jpg"
            labels[name] = [names[k] for k in rng.choice(len(names), size=rng.integers(0, 4), replace=False)]
            sha = f"dup{rng.integers(20)}" if rng.random() < 0.05 else name
            rows.append({"file": name, "shortcode": f"sc{post:04d}", "sha256": sha})
    return labels, pd.DataFrame(rows)


@pytest.mark.parametrize("seed", range(8))
def test_properties_of_any_encoding(seed):
    """Decode inverts encode, ancestors are set, no post or copy spans splits, every common class is everywhere."""
    rng = np.random.default_rng(seed)
    labels, manifest = _random_dataset(rng, posts=int(rng.integers(40, 200)))
    cfg = EncodeParams(min_count=int(rng.integers(0, 6)), val_fraction=0.15, test_fraction=0.15)
    encoded, report = encode(labels, manifest, cfg, seed=seed)
    frame = encoded.frame
    for row in frame.itertuples(index=False):
        positives = decode(np.array(row[4:]), encoded.classes)
        assert positives == json.loads(row.labels)
        assert set(positives) == taxonomy.expand(positives)
    sha = manifest.set_index("file").loc[frame["image"], "sha256"].to_numpy()
    assert (frame.groupby("shortcode")["split"].nunique() == 1).all()
    assert (frame.assign(sha=sha).groupby("sha")["split"].nunique() == 1).all()
    groups = group_ids(frame["shortcode"].tolist(), list(sha))
    for c in encoded.classes:
        held_by = {g for g, bit in zip(groups, frame[c]) if bit}
        present = set(frame.loc[frame[c] == 1, "split"])
        assert present == set(SPLITS) or (len(held_by) < 3 and c in report["missing_from_splits"]), c


def test_the_class_distribution_is_a_table_per_split_and_an_image(tmp_path):
    labels, manifest = _dataset()
    _, report = encode(labels, manifest, EncodeParams(), seed=0)
    write_distribution(report, tmp_path / "distribution.csv", tmp_path / "distribution.png")
    table = pd.read_csv(tmp_path / "distribution.csv")
    assert list(table.columns) == ["class", "split", "images"]
    assert table.groupby("split")["images"].sum().to_dict() == {s: sum(report["counts"][s].values()) for s in SPLITS}
    assert (tmp_path / "distribution.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_class_in_just_three_posts_reaches_every_split_with_its_carousels_whole():
    """Stratification alone puts two of the three Lemon posts in train; whole posts are then moved."""
    labels, rows = {}, []
    for post in range(103):
        lemon = post >= 100
        for item in range(2 if lemon else 1):
            name = f"p{post:03d}_{item}.jpg"
            labels[name] = ["Cans/Lemon"] if lemon else ["No Yerb"]
            rows.append({"file": name, "shortcode": f"sc{post:03d}", "sha256": name})
    encoded, report = encode(labels, pd.DataFrame(rows), EncodeParams(), seed=0)
    lemon = encoded.frame[encoded.frame["Cans/Lemon"] == 1]
    assert sorted(lemon["split"]) == ["test", "test", "train", "train", "val", "val"]
    assert (lemon.groupby("shortcode")["split"].nunique() == 1).all()
    assert report["missing_from_splits"] == {}


def test_a_class_that_cannot_spread_is_reported():
    labels, manifest = _dataset(posts=60)
    labels["post0000_0.jpg"] = ["Bottles/Passion"]  # one post only: it can be in one split at most
    labels.update(
        {name: ["No Yerb"] for name in labels if labels[name] == ["Bottles/Passion"] and name != "post0000_0.jpg"}
    )
    _, report = encode(labels, manifest, EncodeParams(), seed=0)
    missing = report["missing_from_splits"]["Bottles/Passion"]
    assert missing["groups"] == 1 and len(missing["splits"]) == 2

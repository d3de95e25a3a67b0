"""The synthetic source: exact counts, determinism, instaloader-like names, sane labels."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC

import pytest

from yerbnet.classtree.taxonomy import LEAVES, NO_YERB
from yerbnet.sources.synthetic import FLAVOURS, SIZES, SyntheticPhoto, _rng, render_photos

INSTALOADER_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}_UTC(_\d+)?\.jpg$")
BASE_CLASSES = {"Cans", "Cans/Slim", "Bottles"}


@pytest.fixture(scope="module")
def photos() -> list[SyntheticPhoto]:
    return list(render_photos(50, 7))


@pytest.fixture(scope="module")
def many_labels() -> list[tuple[str, ...]]:
    """Labels only, so 300 images never sit in memory at once."""
    return [photo.labels for photo in render_photos(300, 42)]


@pytest.mark.parametrize("images", [0, 1, 5])
def test_yields_exactly_the_requested_count(images: int) -> None:
    assert sum(1 for _ in render_photos(images, 3)) == images


def test_fixture_count(photos: list[SyntheticPhoto]) -> None:
    assert len(photos) == 50


def test_same_seed_gives_identical_data(photos: list[SyntheticPhoto]) -> None:
    again = list(render_photos(50, 7))
    assert [p.file_name for p in again] == [p.file_name for p in photos]
    assert [p.shortcode for p in again] == [p.shortcode for p in photos]
    assert [p.labels for p in again] == [p.labels for p in photos]
    assert all(a.image.tobytes() == b.image.tobytes() for a, b in zip(again, photos))


def test_different_seeds_give_different_data(photos: list[SyntheticPhoto]) -> None:
    other = list(render_photos(50, 8))
    assert [p.file_name for p in other] != [p.file_name for p in photos]
    assert [p.labels for p in other] != [p.labels for p in photos]
    assert other[0].image.tobytes() != photos[0].image.tobytes()


def test_file_names_follow_instaloader_and_are_unique(photos: list[SyntheticPhoto]) -> None:
    names = [p.file_name for p in photos]
    assert all(INSTALOADER_NAME.match(name) for name in names), names
    assert len(set(names)) == len(names)
    for photo in photos:
        assert photo.file_name.startswith(photo.date_utc.strftime("%Y-%m-%d_%H-%M-%S_UTC"))


def test_posts_share_shortcode_and_date_and_number_carousels(photos: list[SyntheticPhoto]) -> None:
    posts: dict[str, list[SyntheticPhoto]] = defaultdict(list)
    for photo in photos:
        assert re.fullmatch(r"[A-Za-z0-9_-]{11}", photo.shortcode)
        posts[photo.shortcode].append(photo)
    assert any(len(items) > 1 for items in posts.values()), "expected at least one carousel"
    for items in posts.values():
        assert len({p.date_utc for p in items}) == 1
        if len(items) == 1:
            assert items[0].carousel_index == 0
            assert not re.search(r"_UTC_\d+\.jpg$", items[0].file_name)
        else:
            assert [p.carousel_index for p in items] == list(range(1, len(items) + 1))
            assert all(p.file_name.endswith(f"_UTC_{p.carousel_index}.jpg") for p in items)


def test_dates_are_utc_from_2016_and_strictly_increase_per_post(photos: list[SyntheticPhoto]) -> None:
    post_dates = list(dict.fromkeys(p.date_utc for p in photos))  # one per post, in order
    assert all(d.tzinfo is not None and d.utcoffset() == UTC.utcoffset(None) for d in post_dates)
    assert post_dates[0].strftime("%Y-%m-%d") == "2016-01-01"
    assert all(a < b for a, b in zip(post_dates, post_dates[1:]))


def test_images_are_rgb_with_instagram_like_sizes(photos: list[SyntheticPhoto]) -> None:
    for photo in photos:
        assert photo.image.mode == "RGB"
        assert photo.image.size in SIZES


def test_labels_are_known_sorted_and_deduplicated(many_labels: list[tuple[str, ...]]) -> None:
    allowed = set(LEAVES) | BASE_CLASSES
    for labels in many_labels:
        assert labels, "every image has at least one label"
        assert set(labels) <= allowed
        assert list(labels) == sorted(set(labels))


def test_no_yerb_is_exclusive_and_the_majority(many_labels: list[tuple[str, ...]]) -> None:
    assert all(labels == (NO_YERB,) for labels in many_labels if NO_YERB in labels)
    share = sum(labels == (NO_YERB,) for labels in many_labels) / len(many_labels)
    assert 0.45 < share < 0.65


def test_blurred_products_and_frequent_leaves_occur(many_labels: list[tuple[str, ...]]) -> None:
    counts = Counter(label for labels in many_labels for label in labels)
    assert any(counts[base] for base in BASE_CLASSES), "blurred instances get their base class"
    assert counts["Cans/Enlightenmint"] > counts["Cans/Slim/Other"]


def test_every_product_leaf_has_a_look() -> None:
    assert set(FLAVOURS) == set(LEAVES) - {NO_YERB}
    looks = [(primary, accent) for _, primary, accent in FLAVOURS.values()]
    assert len(set(looks)) == len(looks)


def test_post_and_image_streams_are_independent() -> None:
    """Regression: with plain entropy lists numpy treats [s, p] and [s, p, 0] as one stream."""
    assert _rng(42, 3).random() != _rng(42, 3, 0).random()
    assert _rng(42, 3, 0).random() == _rng(42, 3, 0).random()

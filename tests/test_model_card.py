"""reports/model_card.md: the data, the metrics with their interval, and the classes not to trust."""

import numpy as np
import pandas as pd

from yerbnet import metrics, model_card

CLASSES = ["Cans", "Cans/Lemon", "No Yerb"]


def _results(f1: dict[str, float], support: dict[str, int]) -> dict:
    per_class = {metrics.metric_key(c): {"f1": f1[c], "support": support[c]} for c in CLASSES}
    return {
        "macro_f1": 0.7,
        "micro_f1": 0.8,
        "macro_pr_auc": 0.9,
        "classes_present": 3,
        "test_images": 40,
        "per_class": per_class,
        "macro_f1_interval": [0.61, 0.78],
    }


def test_the_card_names_the_data_the_interval_and_the_classes_not_to_trust():
    results = _results({"Cans": 0.9, "Cans/Lemon": 0.4, "No Yerb": 0.95}, {"Cans": 12, "Cans/Lemon": 9, "No Yerb": 3})
    index = {
        "splits": {
            "train": {"images": 10, "records": 40, "images_per_class": [5, 2, 4], "positives": [20, 8, 16]},
            "val": {"images": 5, "records": 5, "images_per_class": [2, 1, 3], "positives": [2, 1, 3]},
            "test": {"images": 5, "records": 5, "images_per_class": [3, 1, 2], "positives": [3, 1, 2]},
        }
    }
    posts = pd.DataFrame(
        {"source": ["directory"] * 3, "date_utc": ["2021-03-04T05:06:07Z", "", "2023-01-01T00:00:00Z"]}
    )
    card = model_card.markdown(results, CLASSES, index, posts, "simple_cnn")
    assert "Source: directory; 3 photos scraped, posts dated 2021-03-04 to 2023-01-01" in card
    assert "| Cans | 5 | 2 | 3 |" in card  # images, not the 20 records
    assert "95 % bootstrap interval over test images 0.610 to 0.780" in card
    assert "- Cans/Lemon: test F1 0.40" in card and "- No Yerb: 3 test images" in card
    assert "drawn by code" not in card  # only the synthetic source gets that warning


def test_the_bootstrap_interval_holds_the_macro_f1_and_narrows_with_more_images():
    rng = np.random.default_rng(0)

    def interval(images: int) -> tuple[float, float]:
        y_true = rng.integers(0, 2, (images, 4))
        y_pred = np.where(rng.random((images, 4)) < 0.8, y_true, 1 - y_true)
        low, high = metrics.bootstrap_macro_f1(y_true, y_pred)
        assert low <= metrics.overall(y_true, y_pred, y_pred.astype(float))["macro_f1"] <= high
        return low, high

    small, large = interval(40), interval(4000)
    assert large[1] - large[0] < (small[1] - small[0]) / 4

"""``reports/model_card.md``: what the model is for, what it saw, how good it is and where it is not.

Written by evaluate from the figures it has just measured, so the card never describes
another run. The classes it calls unreliable are those a user should not act on alone:
fewer than ``MIN_SUPPORT`` test images (the F1 is anecdote) or a test F1 below ``MIN_F1``.
"""

from __future__ import annotations

import pandas as pd

from yerbnet.metrics import metric_key
from yerbnet.report import image_counts

MIN_SUPPORT = 5
MIN_F1 = 0.5
SPLITS = ("train", "val", "test")

SYNTHETIC_LIMITS = (
    "The embedded data set is drawn by code (`scrape.source: synthetic`): flat-coloured products on "
    "simple scenes. Scores on it say that the pipeline works, not how the model does on real photos; "
    "`benchmarks/realistic_quality.py` measures that on photos nobody drew for the model (README)."
)


def unreliable(results: dict, classes: list[str]) -> list[tuple[str, str]]:
    """(class, why) for every class with too few test images or a low test F1."""
    found = []
    for name in classes:
        m = results["per_class"][metric_key(name)]
        if m["support"] < MIN_SUPPORT:
            found.append((name, f"{m['support']} test images"))
        elif m["f1"] < MIN_F1:
            found.append((name, f"test F1 {m['f1']:.2f}"))
    return found


def markdown(results: dict, classes: list[str], index: dict, posts: pd.DataFrame, model_name: str) -> str:
    sources = ", ".join(sorted(set(posts["source"])))
    dates = posts["date_utc"][posts["date_utc"] != ""]
    span = f"{dates.min()[:10]} to {dates.max()[:10]}" if len(dates) else "unknown (no post dates)"
    low, high = results["macro_f1_interval"]
    counts = image_counts(index)
    rows = [f"| {name} | " + " | ".join(str(counts[s][c]) for s in SPLITS) + " |" for c, name in enumerate(classes)]
    weak = unreliable(results, classes)
    sections = [
        "# Model card",
        "## What it is for",
        f"Tells which Guayakí products ({len(classes)} classes: cans, slim cans and bottles by flavour, or "
        '"No Yerb") appear in a photo, as labels that respect the class tree: the Keras model '
        f"`{model_name}` in `models/model.keras`, used through `yerbnet predict`. It helps people "
        "label and count posts; it is not meant to decide anything about a person in a photo.",
        "## The data it saw",
        f"Source: {sources}; {len(posts)} photos scraped, posts dated {span}. Images per class and split "
        "(an image counts once for each of its classes, ancestors included):",
        "| class | train | val | test |\n|---|---:|---:|---:|\n" + "\n".join(rows),
        "## How good it is (test split)",
        f"- macro F1 {results['macro_f1']:.3f} (95 % bootstrap interval over test images {low:.3f} to {high:.3f}), "
        f"over {results['classes_present']} classes with test images",
        f"- micro F1 {results['micro_f1']:.3f}; macro PR-AUC {results['macro_pr_auc']:.3f}; "
        f'"No Yerb" F1 {results["per_class"][metric_key("No Yerb")]["f1"]:.3f}'
        if "No Yerb" in classes
        else f"- micro F1 {results['micro_f1']:.3f}",
        f"- {results['test_images']} test images; per-class figures in `reports/evaluation.md`",
        "## Classes it is unreliable on",
        "\n".join(f"- {name}: {why}" for name, why in weak)
        if weak
        else f"None: every class has at least {MIN_SUPPORT} test images and a test F1 of {MIN_F1} or more.",
        "## Limits",
        (SYNTHETIC_LIMITS + " " if "synthetic" in sources else "")
        + "The validation and test splits are small, so a class's F1 moves by a lot with one image; "
        "photos unlike the training ones (other products, other lighting, other crops) are not covered.",
    ]
    return "\n\n".join(sections) + "\n"

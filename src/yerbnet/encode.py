"""The encode stage: labelling rules, class list, multi-hot targets and leak-free splits.

Splits are made here, before augmentation, over groups of images that must stay
together (the items of one carousel post and byte-identical images), so no copy of an
image can reach another split.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

from yerbnet import files, taxonomy
from yerbnet.errors import UserError
from yerbnet.params import EncodeParams

SPLITS = ("train", "val", "test")
DATASET = "dataset.csv"
CLASSES = "classes.json"


@dataclass(frozen=True)
class Encoded:
    """The encoded data set: one row per labelled image, and the class list it is encoded over."""

    frame: pd.DataFrame  # image, shortcode, split, labels (JSON list), one 0/1 column per class
    classes: list[str]

    def targets(self, split: str) -> np.ndarray:
        return self.frame.loc[self.frame["split"] == split, self.classes].to_numpy(dtype=np.float32)


def apply_rules(labels: list[str], merge: dict[str, str]) -> list[str]:
    """Merge classes, resolve "No Yerb" conflicts and add ancestors.

    A photo that shows a product is not a "No Yerb" photo: when both are given, the
    product wins (the annotator saw it), and "No Yerb" is dropped.
    """
    merged = {_merge_label(label, merge) for label in labels}
    if len(merged) > 1:
        merged.discard(taxonomy.NO_YERB)
    return sorted(taxonomy.expand(merged))


def _merge_label(label: str, merge: dict[str, str]) -> str:
    """Map a label, or any label below a merged subtree, to its merge target."""
    for source, target in merge.items():
        if label == source or label.startswith(source + taxonomy.SEPARATOR):
            return target
    return label


def fold_rare(label_sets: list[list[str]], min_count: int) -> tuple[list[list[str]], dict[str, str]]:
    """Fold classes rarer than ``min_count`` into their parent's ``Other`` (or the parent).

    Repeats until every class meets the floor or has nowhere left to go; returns the new
    label sets and the folds that happened.
    """
    folds: dict[str, str] = {}
    while min_count > 0:
        counts = Counter(label for labels in label_sets for label in labels)
        has_children = {taxonomy.parent(c) for c in counts}
        rare = sorted(c for c, n in counts.items()
                      if n < min_count and c not in has_children and taxonomy.parent(c))
        step = {}
        for label in rare:
            other = f"{taxonomy.parent(label)}{taxonomy.SEPARATOR}Other"
            step[label] = other if other != label and other in counts else taxonomy.parent(label)
        if not step:
            break
        folds.update(step)
        folds = {src: step.get(dst, dst) for src, dst in folds.items()}
        label_sets = [apply_rules(labels, step) for labels in label_sets]
    return label_sets, folds


def group_ids(shortcodes: list[str], hashes: list[str]) -> list[int]:
    """Connected groups of images sharing a post or identical bytes (union-find)."""
    parent = list(range(len(shortcodes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_seen: dict[tuple[str, str], int] = {}
    for i, keys in enumerate(zip(shortcodes, hashes)):
        for kind, key in zip(("post", "sha"), keys):
            j = first_seen.setdefault((kind, key), i)
            parent[find(i)] = find(j)
    return [find(i) for i in range(len(shortcodes))]


def split_groups(targets: np.ndarray, groups: list[int], val_fraction: float,
                 test_fraction: float, seed: int) -> list[str]:
    """Assign a split to each image, stratifying over groups by their union of labels."""
    unique = sorted(set(groups))
    index = {g: k for k, g in enumerate(unique)}
    group_targets = np.zeros((len(unique), targets.shape[1]), dtype=np.int8)
    for row, g in zip(targets, groups):
        group_targets[index[g]] |= row.astype(np.int8)
    if len(unique) < 3:
        raise UserError(f"only {len(unique)} independent posts are labelled; need at least 3 to split")

    def carve(members: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
        splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        keep, carved = next(splitter.split(np.zeros(len(members)), group_targets[members]))
        return members[keep], members[carved]

    rest, test = carve(np.arange(len(unique)), test_fraction)
    train, val = carve(rest, val_fraction / (1 - test_fraction))
    group_split = {}
    for name, members in (("train", train), ("val", val), ("test", test)):
        group_split.update({unique[m]: name for m in members})
    return [group_split[g] for g in groups]


def encode(labels: dict[str, list[str]], manifest: pd.DataFrame, cfg: EncodeParams, seed: int) -> tuple[Encoded, dict]:
    """Encode labelled images; return the data set and the class report for ``classes.json``."""
    posts = manifest.set_index("file")
    images = sorted(name for name, found in labels.items() if found and name in posts.index)
    if not images:
        raise UserError("no labelled image matches the scraped images; nothing to encode")
    label_sets = [apply_rules(labels[name], cfg.merge) for name in images]
    label_sets, folds = fold_rare(label_sets, cfg.min_count)
    classes = sorted({label for labels_ in label_sets for label in labels_})
    targets = np.array([multi_hot(labels_, classes) for labels_ in label_sets], dtype=np.int8)
    groups = group_ids(posts.loc[images, "shortcode"].tolist(), posts.loc[images, "sha256"].tolist())
    splits = split_groups(targets, groups, cfg.val_fraction, cfg.test_fraction, seed)

    frame = pd.DataFrame({
        "image": images,
        "shortcode": posts.loc[images, "shortcode"].tolist(),
        "split": splits,
        "labels": [json.dumps(labels_) for labels_ in label_sets],
    })
    frame = pd.concat([frame, pd.DataFrame(targets, columns=classes)], axis=1)
    report = {
        "classes": classes,
        "parents": {c: taxonomy.parent(c) for c in classes},
        "counts": {s: {c: int(frame.loc[frame["split"] == s, c].sum()) for c in classes} for s in SPLITS},
        "images": {s: int((frame["split"] == s).sum()) for s in SPLITS},
        "merges": dict(cfg.merge),
        "folds": folds,
    }
    return Encoded(frame, classes), report


def multi_hot(labels: list[str], classes: list[str]) -> list[int]:
    present = set(labels)
    return [int(c in present) for c in classes]


def decode(row: np.ndarray, classes: list[str]) -> list[str]:
    """The inverse of :func:`multi_hot`."""
    return [c for c, bit in zip(classes, row) if bit]


def write_encoded(encoded: Encoded, report: dict, out_dir: Path) -> None:
    files.write_text(out_dir / DATASET, encoded.frame.to_csv(index=False, lineterminator="\n"))
    files.write_json(out_dir / CLASSES, report)


def read_encoded(out_dir: Path) -> Encoded:
    path = out_dir / DATASET
    if not path.exists():
        raise UserError(f"{path}: not found; run the encode stage first")
    classes = json.loads((out_dir / CLASSES).read_text(encoding="utf-8"))["classes"]
    frame = pd.read_csv(path, dtype={"image": str, "shortcode": str, "split": str, "labels": str},
                        keep_default_na=False)
    return Encoded(frame, classes)

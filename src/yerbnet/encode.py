"""The encode stage: labelling rules, class list, multi-hot targets and leak-free splits.

Splits are made here, before augmentation, over groups of images that must stay
together (the items of one carousel post and byte-identical images), so no copy of an
image can reach another split. Every output is a function of the labels table, the
manifest and the params only, so the export form the labels came in cannot change it.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

from yerbnet import files
from yerbnet.classtree import taxonomy
from yerbnet.errors import UserError
from yerbnet.params import EncodeParams

SPLITS = ("train", "val", "test")
DATASET = "dataset.csv"
DATASET_COLUMNS = (
    "image",
    "shortcode",
    "split",
    "labels",
)  # then one 0/1 column per class, so no class takes these names
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
    merged = {merge_label(label, merge) for label in labels}
    if len(merged) > 1:
        merged.discard(taxonomy.NO_YERB)
    return sorted(taxonomy.expand(merged))


def merge_label(label: str, merge: dict[str, str]) -> str:
    """Map a label, or any label below a merged subtree, to its merge target.

    The most specific source wins (``Cans/Slim/Gold`` before ``Cans/Slim``), and targets
    are followed (``A: B`` with ``B: C`` sends ``A`` to ``C``); a cycle is an error.
    """
    path = [label]
    while (source := _merge_source(label, merge)) is not None and merge[source] != label:
        label = merge[source]
        if label in path:
            raise UserError(
                f"params.yaml: encode.merge sends {' -> '.join(path + [label])}, a cycle; "
                "allowed: merges that end at a label"
            )
        path.append(label)
    return label


def _merge_source(label: str, merge: dict[str, str]) -> str | None:
    """The longest merge key that is ``label`` or one of its ancestors."""
    matches = [source for source in merge if label == source or label.startswith(source + taxonomy.SEPARATOR)]
    return max(matches, key=len, default=None)


def fold_rare(label_sets: list[list[str]], min_count: int) -> tuple[list[list[str]], dict[str, str]]:
    """Fold classes rarer than ``min_count`` into their parent's ``Other`` (or the parent).

    Repeats until every class meets the floor or has nowhere left to go; returns the new
    label sets and the folds that happened.
    """
    folds: dict[str, str] = {}
    while min_count > 0:
        counts = Counter(label for labels in label_sets for label in labels)
        has_children = {taxonomy.parent(c) for c in counts}
        rare = sorted(c for c, n in counts.items() if n < min_count and c not in has_children and taxonomy.parent(c))
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

    first_with_post: dict[str, int] = {}
    first_with_hash: dict[str, int] = {}
    for i, (post, sha) in enumerate(zip(shortcodes, hashes)):
        for first_seen, key in ((first_with_post, post), (first_with_hash, sha)):
            parent[find(i)] = find(first_seen.setdefault(key, i))
    return [find(i) for i in range(len(shortcodes))]


def split_groups(
    targets: np.ndarray, groups: list[int], val_fraction: float, test_fraction: float, seed: int
) -> list[str]:
    """Assign a split to each image, stratifying over groups by their union of labels.

    Iterative stratification keeps class proportions close to the fractions; then whole
    groups move (see :func:`_cover_every_split`) so that a class held by three or more
    groups appears in every split, which stratification alone does not promise.
    """
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
    assignment = np.zeros(len(unique), dtype=np.int64)
    assignment[val], assignment[test] = SPLITS.index("val"), SPLITS.index("test")
    sizes = np.bincount([index[g] for g in groups], minlength=len(unique))
    _cover_every_split(group_targets, sizes, assignment, seed)
    return [SPLITS[assignment[index[g]]] for g in groups]


def _cover_every_split(group_targets: np.ndarray, sizes: np.ndarray, assignment: np.ndarray, seed: int) -> None:
    """Move whole groups (in place) until every class held by three or more groups is in every split.

    A move never takes the last group of any class out of a split, so each one adds a
    (class, split) pair and none is lost: the loop ends. A class that still misses a split
    has no such move left; ``classes.json`` lists it under ``missing_from_splits``.
    """
    rank = np.random.default_rng(seed).permutation(len(sizes))  # seeded tie-break among equal sizes
    while (move := _next_move(group_targets, sizes, assignment, rank)) is not None:
        group, split = move
        assignment[group] = split


def _next_move(
    group_targets: np.ndarray, sizes: np.ndarray, assignment: np.ndarray, rank: np.ndarray
) -> tuple[int, int] | None:
    """The smallest group that can give a missing class to a split, rarest class first."""
    presence = np.stack([group_targets[assignment == s].sum(axis=0) for s in range(len(SPLITS))])
    held = group_targets.sum(axis=0)
    for c in np.argsort(held, kind="stable"):
        if held[c] < 3:
            continue
        for split in np.flatnonzero(presence[:, c] == 0):
            for donor in np.argsort(-presence[:, c], kind="stable"):
                if presence[donor, c] < 2:
                    break
                would_empty = group_targets @ (presence[donor] < 2).astype(np.int64) > 0
                movable = np.flatnonzero((assignment == donor) & (group_targets[:, c] == 1) & ~would_empty)
                if len(movable):
                    return int(min(movable, key=lambda g: (sizes[g], rank[g]))), int(split)
    return None


def encode(labels: dict[str, list[str]], manifest: pd.DataFrame, cfg: EncodeParams, seed: int) -> tuple[Encoded, dict]:
    """Encode labelled images; return the data set and the class report for ``classes.json``."""
    posts = manifest.set_index("file")
    images = sorted(name for name, found in labels.items() if found and name in posts.index)
    if not images:
        raise UserError("no labelled image matches the scraped images; nothing to encode")
    given = [labels[name] for name in images]
    ruled = [apply_rules(labels_, cfg.merge) for labels_ in given]
    label_sets, folds = fold_rare(ruled, cfg.min_count)
    classes = sorted({label for labels_ in label_sets for label in labels_})
    targets = np.array([multi_hot(labels_, classes) for labels_ in label_sets], dtype=np.int8)
    groups = group_ids(posts.loc[images, "shortcode"].tolist(), posts.loc[images, "sha256"].tolist())
    splits = split_groups(targets, groups, cfg.val_fraction, cfg.test_fraction, seed)

    frame = pd.DataFrame(
        {
            "image": images,
            "shortcode": posts.loc[images, "shortcode"].tolist(),
            "split": splits,
            "labels": _as_json(label_sets),
        },
        columns=list(DATASET_COLUMNS),
    )
    frame = pd.concat([frame, pd.DataFrame(targets, columns=classes)], axis=1)
    counts = {s: {c: int(frame.loc[frame["split"] == s, c].sum()) for c in classes} for s in SPLITS}
    report = {
        "classes": classes,
        "parents": {c: taxonomy.parent(c) for c in classes},
        "counts": counts,
        "images": {s: int((frame["split"] == s).sum()) for s in SPLITS},
        "merges": {
            source: {"to": merge_label(source, cfg.merge), "images": _holding(given, source)}
            for source in sorted(cfg.merge)
        },
        "folds": {
            source: {"to": target, "images": _holding(ruled, source)} for source, target in sorted(folds.items())
        },
        "no_yerb_conflicts": sum(_conflict(g, cfg.merge) for g in given),
        "below_min_count": [c for c in classes if sum(counts[s][c] for s in SPLITS) < cfg.min_count],
        "missing_from_splits": _missing_from_splits(frame, classes, groups, counts),
    }
    return Encoded(frame, classes), report


def _as_json(label_sets: list[list[str]]) -> list[str]:
    """Each label set as a JSON list; images with the same labels share one string."""
    dumps = functools.cache(lambda labels: json.dumps(list(labels)))
    return [dumps(tuple(labels)) for labels in label_sets]


def _holding(label_sets: list[list[str]], source: str) -> int:
    """Images with ``source`` or a label below it."""
    return sum(
        any(label == source or label.startswith(source + taxonomy.SEPARATOR) for label in labels)
        for labels in label_sets
    )


def _conflict(labels: list[str], merge: dict[str, str]) -> bool:
    merged = {merge_label(label, merge) for label in labels}
    return taxonomy.NO_YERB in merged and len(merged) > 1


def _missing_from_splits(
    frame: pd.DataFrame, classes: list[str], groups: list[int], counts: dict[str, dict[str, int]]
) -> dict[str, dict]:
    """Classes absent from some split, with how many groups and images hold them (why they could not spread)."""
    missing = {}
    for c in classes:
        absent = [s for s in SPLITS if counts[s][c] == 0]
        if absent:
            held = frame[c].to_numpy() == 1
            missing[c] = {
                "splits": absent,
                "groups": len({g for g, h in zip(groups, held) if h}),
                "images": int(held.sum()),
            }
    return missing


def multi_hot(labels: list[str], classes: list[str]) -> list[int]:
    present = set(labels)
    return [int(c in present) for c in classes]


def decode(row: np.ndarray, classes: list[str]) -> list[str]:
    """The inverse of :func:`multi_hot`."""
    return [c for c, bit in zip(classes, row) if bit]


def write_encoded(encoded: Encoded, report: dict, out_dir: Path) -> None:
    with files.atomic_path(out_dir / DATASET) as tmp:  # straight to the file: no copy of the table as text
        encoded.frame.to_csv(tmp, index=False, lineterminator="\n", encoding="utf-8")
    files.write_json(out_dir / CLASSES, report)


def read_encoded(out_dir: Path) -> Encoded:
    path = out_dir / DATASET
    if not path.exists():
        raise UserError(f"{path}: not found; run the encode stage first")
    classes = json.loads((out_dir / CLASSES).read_text(encoding="utf-8"))["classes"]
    frame = pd.read_csv(
        path, dtype={"image": str, "shortcode": str, "split": str, "labels": str}, keep_default_na=False
    )
    return Encoded(frame, classes)


def distribution_table(report: dict) -> pd.DataFrame:
    """Images per class and split in long form (class, split, images): what the DVC bar plot draws."""
    return pd.DataFrame(
        [{"class": c, "split": s, "images": report["counts"][s][c]} for c in report["classes"] for s in SPLITS],
        columns=["class", "split", "images"],
    )


def write_distribution(report: dict, table_path: Path, image_path: Path) -> None:
    """The class distribution as a table (for `dvc plots show`) and a PNG (viewable offline)."""
    table = distribution_table(report)
    files.write_text(table_path, table.to_csv(index=False, lineterminator="\n"))
    from matplotlib.figure import Figure  # not pyplot: no global state, no backend to choose

    classes = report["classes"][::-1]  # matplotlib draws bottom-up; read the sorted list top-down
    height = 0.8 / len(SPLITS)
    figure = Figure(figsize=(8, 1.2 + 0.45 * len(classes)))
    axes = figure.subplots()
    for k, split in enumerate(SPLITS):
        axes.barh(
            [i + (1 - k) * height for i in range(len(classes))],
            [report["counts"][split][c] for c in classes],
            height=height,
            label=split,
        )
    axes.set_yticks(range(len(classes)), labels=classes)
    axes.set_xlabel("images")
    axes.set_title("Images per class and split")
    axes.legend(loc="upper right")
    figure.tight_layout()
    with files.atomic_path(image_path) as tmp:
        figure.savefig(tmp, format="png", dpi=100, metadata={"Software": None})

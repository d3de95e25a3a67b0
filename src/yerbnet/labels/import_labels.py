"""The import_labels stage: match an export's rows to scraped images, count what happened.

Output is the canonical labels table (one row per scraped image that has labels) and a
report of every row that did not make it, so nothing is dropped silently. The table
depends only on which labels each image got, never on the export form that carried them.

Labels are tidied before anything else: stray spaces around and inside each path part go,
and spellings that differ only in case become one class (the ``labels.taxonomy``
spelling, else the commonest, else the first in sort order); the report lists each
rewrite. The labels are otherwise kept as given: "No Yerb" beside a product is counted
here as a conflict and resolved by encode's rule (the product wins).
"""

from __future__ import annotations

import difflib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from yerbnet import files
from yerbnet.classtree import taxonomy
from yerbnet.encode import DATASET_COLUMNS
from yerbnet.errors import UserError
from yerbnet.labels.azure import Row
from yerbnet.labels.forms import read_export
from yerbnet.labels.matching import Matcher
from yerbnet.labels.table import LABELS_TABLE, write_labels_table
from yerbnet.metrics import check_keys
from yerbnet.params import LabelsParams

REPORT = "report.json"
HEADLINE = ("rows_read", "matched_images", "rows_without_image", "duplicate_rows_merged", "images_without_labels")
EXAMPLES = 10  # file names listed per kind of dropped row


@dataclass
class Matches:
    """The export's rows, matched to scraped photos."""

    found: dict[str, frozenset[str]] = field(default_factory=dict)  # photo -> tidied labels (see match_rows)
    raw_labels: set[str] = field(default_factory=set)  # every label as written in the export
    counts: Counter[str] = field(default_factory=Counter)
    unmatched: list[str] = field(default_factory=list)  # URLs naming no photo
    ambiguous: dict[str, list[str]] = field(default_factory=dict)  # URL -> the photos it could name


def import_labels(
    export: Path, images: Mapping[str, str] | Iterable[str], out_dir: Path, cfg: LabelsParams = LabelsParams()
) -> dict[str, int]:
    """Write ``labels.csv`` and ``report.json`` into ``out_dir``; return the headline counts.

    ``images`` maps each scraped file to the relative path it had in the user's folder (see
    :mod:`yerbnet.labels.matching`); plain names mean both are the same.
    """
    read = read_export(export)
    matcher = Matcher(images)
    matches = match_rows(read.rows, matcher, export)
    _check_matched(export, matches.counts, cfg.min_matched, matches.unmatched, matches.ambiguous)

    spelling = canonical_spellings(matches.found.values(), cfg.taxonomy or [])
    spelled = {raw: sorted({spelling[label] for label in raw}) for raw in set(matches.found.values())}
    labels = {name: spelled[raw] for name, raw in sorted(matches.found.items()) if raw}
    if cfg.taxonomy is not None:
        check_taxonomy(labels, cfg.taxonomy, export)
    check_class_names(labels, export)
    unlabelled = [name for name in sorted(matcher.stored.values()) if name not in labels]
    matches.counts["matched_images"] = len(matches.found)
    matches.counts["images_without_labels"] = len(unlabelled)
    write_labels_table(out_dir / LABELS_TABLE, labels)
    files.write_json(out_dir / REPORT, report(export, read.form, matches, labels, spelling, unlabelled))
    return {key: matches.counts[key] for key in HEADLINE}


def match_rows(rows: list[Row], matcher: Matcher, export: Path) -> Matches:
    """Each row's photo; rows naming none (or several) are counted and kept as examples, never guessed.

    Photos with the same labels share one label set: 100,000 photos carry a few hundred
    distinct sets, and a set per photo would be a fifth of the stage's memory.
    """
    matches = Matches(counts=Counter(rows_read=len(rows)))
    shared: dict[frozenset[str], frozenset[str]] = {}
    for url, row_labels in rows:
        try:
            match = matcher.match(url)
        except UserError as exc:
            raise UserError(f"{export}: {exc}") from None
        if match.file is None:
            matches.counts["rows_without_image"] += 1
            if match.ambiguous:
                matches.ambiguous[url] = list(match.candidates)
            else:
                matches.unmatched.append(url)
            continue
        matches.counts["duplicate_rows_merged"] += match.file in matches.found
        matches.counts["rows_without_labels"] += not row_labels
        matches.raw_labels.update(row_labels)
        found = frozenset(filter(None, map(tidy, row_labels))) | matches.found.get(match.file, frozenset())
        matches.found[match.file] = shared.setdefault(found, found)
    return matches


def report(
    export: Path,
    form: str,
    matches: Matches,
    labels: dict[str, list[str]],
    spelling: dict[str, str],
    unlabelled: list[str],
) -> dict:
    """``data/labels/report.json``: what was read, matched and dropped, and why."""
    conflicts = sorted(name for name, given in labels.items() if taxonomy.NO_YERB in given and len(given) > 1)
    return {
        "export": str(export),
        "form": form,
        **{key: matches.counts[key] for key in HEADLINE},
        "rows_without_labels": matches.counts["rows_without_labels"],
        "no_yerb_conflicts": len(conflicts),
        "labelled_images": len(labels),
        "ambiguous_rows": len(matches.ambiguous),
        "normalised_labels": {
            raw: spelling[tidy(raw)] for raw in sorted(matches.raw_labels) if tidy(raw) and spelling[tidy(raw)] != raw
        },
        "examples": {
            "rows_without_image": sorted(matches.unmatched)[:EXAMPLES],
            "ambiguous_rows": dict(sorted(matches.ambiguous.items())[:EXAMPLES]),
            "images_without_labels": unlabelled[:EXAMPLES],
            "no_yerb_conflicts": conflicts[:EXAMPLES],
        },
        "rules": {
            "no_yerb_conflicts": "the product wins; encode drops 'No Yerb' from these images",
            "images_without_labels": "left out of training, never read as 'No Yerb'",
        },
    }


def tidy(label: str) -> str:
    """A label without stray spaces: trimmed parts, single inner spaces, no empty parts."""
    parts = (" ".join(part.split()) for part in label.split(taxonomy.SEPARATOR))
    return taxonomy.SEPARATOR.join(part for part in parts if part)


def canonical_spellings(label_sets: Iterable[Iterable[str]], preferred: Iterable[str]) -> dict[str, str]:
    """One spelling per class for labels that differ only in case, decided part by part.

    Deciding per path part keeps a class and its ancestors consistent: ``cans/Lemon``
    beside ``Cans/Slim`` becomes ``Cans/Lemon``, so both share the ancestor ``Cans``.
    """
    everything = [label for labels in label_sets for label in labels]
    votes: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for label in everything:
        for key, part in _keyed_parts(label):
            votes[key][part] += 1
    chosen = {key: part for label in taxonomy.expand(tidy(p) for p in preferred) for key, part in _keyed_parts(label)}
    for key, spellings in votes.items():
        chosen.setdefault(key, min(spellings, key=lambda s: (-spellings[s], s)))
    return {label: taxonomy.SEPARATOR.join(chosen[key] for key, _ in _keyed_parts(label)) for label in everything}


def _keyed_parts(label: str) -> list[tuple[str, str]]:
    """(case-folded path up to this part, this part as written) for each part of a label."""
    parts = label.split(taxonomy.SEPARATOR)
    return [(taxonomy.SEPARATOR.join(parts[: i + 1]).casefold(), part) for i, part in enumerate(parts)]


def check_taxonomy(labels: dict[str, list[str]], allowed: list[str], export: Path) -> None:
    """Stop on any label that ``labels.taxonomy`` (or an ancestor of one of its labels) does not name."""
    valid = taxonomy.expand(tidy(label) for label in allowed)
    offending: defaultdict[str, list[str]] = defaultdict(list)
    for name, given in labels.items():
        for label in given:
            if label not in valid:
                offending[label].append(name)
    if offending:
        problems = "; ".join(_unknown(label, names, valid) for label, names in sorted(offending.items()))
        raise UserError(f"{export}: labels not in labels.taxonomy: {problems}")


def check_class_names(labels: dict[str, list[str]], export: Path) -> None:
    """Stop now, not after training, on class names that later stages cannot keep apart."""
    classes = sorted(taxonomy.expand(label for given in labels.values() for label in given))
    for name in classes:
        if name in DATASET_COLUMNS:
            raise UserError(
                f"{export}: the label {name!r} is also a column of encode's dataset table "
                f"({', '.join(DATASET_COLUMNS)}); rename it in the export, or relabel"
            )
    try:
        check_keys(classes)
    except UserError as exc:
        raise UserError(f"{export}: {exc}") from None


def _unknown(label: str, names: list[str], valid: set[str]) -> str:
    close = difflib.get_close_matches(label, sorted(valid), n=3, cutoff=0.6)
    hint = f"closest valid: {', '.join(repr(c) for c in close)}" if close else "no close valid label"
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"{label!r} on {len(names)} image(s) ({shown}); {hint}"


def _check_matched(
    export: Path, counts: Counter[str], min_matched: float, unmatched: list[str], ambiguous: dict[str, list[str]]
) -> None:
    """Stop when the export is for another image set rather than train on (almost) nothing."""
    rows = counts["rows_read"]
    matched = rows - counts["rows_without_image"]
    if not rows:
        raise UserError(f"{export}: no data rows; export the labels again")
    if matched < min_matched * rows or matched == 0:
        raise UserError(
            f"{export}: only {matched} of its {rows} rows ({matched / rows:.0%}) name a scraped image, "
            f"below labels.min_matched = {min_matched:g}{_examples(unmatched, ambiguous)}; "
            "is it the export for this image set (scrape.directory)?"
        )


def _examples(unmatched: list[str], ambiguous: dict[str, list[str]]) -> str:
    """A few unmatched and ambiguous rows, so the user sees what the export calls its photos."""
    text = ""
    if unmatched:
        text += f"; unmatched, e.g. {', '.join(repr(u) for u in sorted(unmatched)[:3])}"
    if ambiguous:
        url, candidates = sorted(ambiguous.items())[0]
        text += (
            f"; {len(ambiguous)} ambiguous (one file name in several folders, and the URL names no folder), "
            f"e.g. {url!r} could be {' or '.join(candidates[:3])}"
        )
    return text

"""``source: directory``: every usable image under a folder, in any nesting, into ``data/raw``.

A folder that instaloader produced is understood: post date and carousel index come from
its file names (``{date_utc}_UTC[_N].jpg``), the shortcode from the post's ``.json.xz``;
videos, metadata, captions and the profile picture are left out. The instagram source
feeds its download cache through the same code, so both give identical manifests.

Images are decoded and re-encoded on every core, a few at a time, and written in sorted path
order by one thread, so two runs over the same folder write byte-identical outputs whatever
the number of cores. Memory stays flat however large the folder is: files are streamed from
the folder walk, and what must be remembered per photo (its name, its hash, its manifest
row) goes to a SQLite file (:class:`Written`), not into Python objects.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import re
import shutil
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass, field, fields
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from tqdm import tqdm

from yerbnet import files
from yerbnet.errors import UserError
from yerbnet.parallel import ordered_map
from yerbnet.params import ScrapeParams
from yerbnet.sources.images import IMAGE_SUFFIXES, UnusableImage, load_rgb
from yerbnet.sources.manifest import IMAGES_DIR, MANIFEST, ImageRecord, jpeg_bytes, write_jpeg, write_manifest

REPORT = "scrape_report.json"
WRITTEN = ".scrape.sqlite"  # Written's scratch table; gone when the stage ends
STAMP_FORMAT = "%Y-%m-%d_%H-%M-%S"
INSTALOADER_STEM = re.compile(r"^(?P<stamp>\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2})_UTC")
CAROUSEL_ITEM = re.compile(r"^(?P<post>.+)_(?P<index>\d+)$")
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".webm"})
METADATA_SUFFIXES = (".json.xz", ".json")
META_CACHE = 64  # carousel items sit next to each other in sorted order; a few posts suffice
IN_FLIGHT_PER_WORKER = 4  # photos decoded ahead per worker: every core stays busy, memory stays bounded


@dataclass(frozen=True)
class PostMeta:
    """What an instaloader ``.json.xz`` tells about a post that its file names do not."""

    shortcode: str
    date_utc: datetime
    video_indices: frozenset[int]  # 0 for a video post, N for the N-th carousel item


@dataclass(frozen=True)
class Photo:
    """Where one image file goes in the manifest."""

    stem: str  # output file name without ``.jpg``
    shortcode: str
    date_utc: datetime | None
    carousel_index: int
    is_video_cover: bool


@dataclass(frozen=True)
class Normalised:
    """One photo as a worker decoded and re-encoded it: all the in-order writer still needs."""

    digest: str  # sha256 of the source file: duplicates are found by it
    jpeg: bytes
    size: tuple[int, int]


@dataclass
class Listing:
    """What the folder walk left out, and why (the image candidates themselves are streamed)."""

    skipped: list[dict[str, str]] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)


def normalise(path: Path, max_pixels: int, max_side: int | None) -> Normalised | str:
    """Read, hash, decode and re-encode one photo (the costly part, run on every core), or say why not.

    Pillow and hashlib release the GIL while they work, so threads use every core.
    """
    try:
        data = path.read_bytes()
        image = load_rgb(data, max_pixels, max_side)
    except (UnusableImage, OSError) as exc:
        return str(exc)
    return Normalised(hashlib.sha256(data).hexdigest(), jpeg_bytes(image), image.size)


def scrape_directory(cfg: ScrapeParams, raw_dir: Path) -> int:
    """The ``directory`` source: ``cfg.directory`` into ``raw_dir``."""
    root = Path(cfg.directory)
    if not root.is_dir():
        raise UserError(
            f"params.yaml: scrape.directory = {cfg.directory!r}: folder not found; "
            "set it to the folder that holds your photos"
        )
    return ingest(root, raw_dir, cfg, source="directory")


def ingest(
    root: Path,
    raw_dir: Path,
    cfg: ScrapeParams,
    source: str,
    shortcodes: frozenset[str] | None = None,
    workers: int | None = None,
) -> int:
    """Normalise every usable image under ``root`` into ``raw_dir``; write the manifest and the report.

    ``shortcodes``, when given, keeps only those posts (the instagram source: complete, within ``max_posts``).
    Returns the number of images stored; fails only when no image at all is usable.
    """
    _reset(raw_dir)
    total = sum(1 for _ in image_files(root, Listing()))  # a first walk, names only: the progress bar's total
    listing = Listing()
    workers = workers or os.cpu_count() or 1
    with (
        Written(raw_dir / WRITTEN) as written,
        ThreadPoolExecutor(max_workers=workers) as pool,
        tqdm(total=total, desc=f"scrape {source}", unit="img") as bar,
    ):
        writer = _Writer(root, raw_dir / IMAGES_DIR, cfg, source, shortcodes, listing, written)
        chosen = writer.chosen(image_files(root, listing), bar)
        for path, photo, result in ordered_map(pool, writer.prepare, chosen, window=workers * IN_FLIGHT_PER_WORKER):
            if not writer.write(path, photo, result):
                bar.set_postfix(skipped=len(listing.skipped), refresh=False)
            bar.update()
        write_manifest(raw_dir / MANIFEST, written.records())
        stored = len(written)
    files.write_json(raw_dir / REPORT, _report(source, root, stored, listing))
    if not stored:
        raise UserError(f"{root}: no usable image among its files; see {raw_dir / REPORT} for what was skipped and why")
    if listing.skipped:
        print(f"scrape: {len(listing.skipped)} files skipped, listed in {raw_dir / REPORT}")
    return stored


def _reset(raw_dir: Path) -> None:
    """Start from an empty output, as DVC does, so a manual rerun leaves no stale image behind."""
    if raw_dir.exists():
        shutil.rmtree(raw_dir)
    raw_dir.mkdir(parents=True)


def image_files(root: Path, listing: Listing) -> Iterator[Path]:
    """Walk ``root`` in sorted order without following symlinked folders; yield the image candidates, and note
    every other file in ``listing``."""
    inside = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        for name in sorted(d for d in dirnames if (here / d).is_symlink()):
            listing.skipped.append(_skip(root, here / name, "symlinked folder, not followed"))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not (here / d).is_symlink())
        for name in sorted(n for n in filenames if not n.startswith(".")):
            if _is_image(root, inside, here / name, listing):
                yield here / name


def _is_image(root: Path, inside: Path, path: Path, listing: Listing) -> bool:
    name = path.name.lower()
    problem = _symlink_problem(path, inside) if path.is_symlink() else None
    if problem:
        listing.skipped.append(_skip(root, path, problem))
    elif path.suffix.lower() in VIDEO_SUFFIXES:
        listing.ignored["video"] += 1
    elif name.endswith((*METADATA_SUFFIXES, ".txt")) or name == "id":
        listing.ignored["metadata"] += 1
    elif path.suffix.lower() not in IMAGE_SUFFIXES:
        listing.ignored["not an image"] += 1
    elif path.stem.endswith("_profile_pic"):
        listing.ignored["profile picture"] += 1
    else:
        return True
    return False


def _symlink_problem(path: Path, inside: Path) -> str | None:
    """Why a symlinked file is not read (a loop, a missing target, a target outside the folder), else None."""
    target = os.readlink(path)
    try:
        resolved = path.resolve(strict=True)
    except FileNotFoundError:
        return f"symlink to {target}, which does not exist; not followed"
    except (RuntimeError, OSError):  # Python 3.11 raises RuntimeError on a loop, later ones OSError
        return f"symlink to {target}, a loop of symlinks; not followed"
    if not resolved.is_relative_to(inside):
        return f"symlink to {target}, outside the folder; not followed"
    return None


def _skip(root: Path, path: Path, reason: str) -> dict[str, str]:
    return {"file": path.relative_to(root).as_posix(), "reason": reason}


def _report(source: str, root: Path, images: int, listing: Listing) -> dict[str, Any]:
    return {
        "source": source,
        "folder": str(root),
        "images": images,
        "skipped": sorted(listing.skipped, key=lambda s: s["file"]),
        "ignored": dict(sorted(listing.ignored.items())),
    }


class Written:
    """The photos stored so far, kept in a SQLite file inside ``data/raw`` (removed when done), not in memory.

    scrape must remember every photo's output name (names stay unique), its source hash
    (duplicates are kept once) and its manifest row (written sorted by name at the end).
    As Python objects that was about 2 KB a photo: 272 MiB of peak memory at 100,000 photos
    against 92 at 1,000; in SQLite, 101 against 91 (docs/scaling.md).
    """

    COLUMNS = tuple(f.name for f in fields(ImageRecord))

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA journal_mode = OFF")  # a scratch table: a crash reruns the stage anyway
        self.db.execute("PRAGMA synchronous = OFF")
        self.db.execute(f"CREATE TABLE photos ({', '.join(self.COLUMNS)}, source_sha256 UNIQUE, PRIMARY KEY (file))")

    def __enter__(self) -> Written:
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.close()
        self.path.unlink(missing_ok=True)

    def __len__(self) -> int:
        return self.db.execute("SELECT count(*) FROM photos").fetchone()[0]

    def has_name(self, file: str) -> bool:
        return self.db.execute("SELECT 1 FROM photos WHERE file = ?", (file,)).fetchone() is not None

    def first_with(self, source_sha256: str) -> str | None:
        """The original path of the photo stored with this source hash, if any."""
        row = self.db.execute("SELECT original FROM photos WHERE source_sha256 = ?", (source_sha256,)).fetchone()
        return row[0] if row else None

    def add(self, record: ImageRecord, source_sha256: str) -> None:
        self.db.execute(
            f"INSERT INTO photos VALUES ({', '.join('?' * (len(self.COLUMNS) + 1))})", (*astuple(record), source_sha256)
        )

    def records(self) -> Iterator[ImageRecord]:
        """Every row, sorted by file name (SQLite's binary order of UTF-8 is Python's order of ``str``)."""
        for row in self.db.execute(f"SELECT {', '.join(self.COLUMNS)} FROM photos ORDER BY file"):
            yield ImageRecord(*row)


class _Writer:
    """Turns image files into manifest rows, one at a time, in path order."""

    def __init__(
        self,
        root: Path,
        images_dir: Path,
        cfg: ScrapeParams,
        source: str,
        shortcodes: frozenset[str] | None,
        listing: Listing,
        written: Written,
    ) -> None:
        self.root, self.images_dir, self.cfg, self.source = root, images_dir, cfg, source
        self.shortcodes, self.listing, self.written = shortcodes, listing, written
        self.post_meta = lru_cache(maxsize=META_CACHE)(self._read_meta)

    def chosen(self, paths: Iterable[Path], bar: tqdm) -> Iterator[tuple[Path, Photo]]:
        """The photos to write, in order, with their post; the others are counted (and ticked off) here."""
        for path in paths:
            photo = self._identify(path)
            reason = self._left_out(photo)
            if reason is None:
                yield path, photo
            else:
                self.listing.ignored[reason] += 1
                bar.update()

    def _left_out(self, photo: Photo) -> str | None:
        if photo.is_video_cover and self.cfg.videos == "skip":
            return "video cover (scrape.videos = skip)"
        if self.shortcodes is not None and photo.shortcode not in self.shortcodes:
            return "post not selected (beyond scrape.max_posts, or incomplete)"
        return None

    def prepare(self, item: tuple[Path, Photo]) -> tuple[Path, Photo, Normalised | str]:
        """:func:`normalise` in a worker thread, keeping the photo's place beside its result."""
        path, photo = item
        return path, photo, normalise(path, self.cfg.max_pixels, self.cfg.max_side)

    def write(self, path: Path, photo: Photo, result: Normalised | str) -> bool:
        """Store a normalised photo and its row, or note why not and return False (in path order)."""
        if isinstance(result, str):
            self._skip(path, result)
            return False
        first = self.written.first_with(result.digest)
        if first is not None:
            self._skip(path, f"duplicate of {first} (same content); kept once")
            return False
        record = write_jpeg(
            result.jpeg,
            result.size,
            self.images_dir / self._unique_name(photo.stem, result.digest),
            self._rel(path),
            self.source,
            photo.shortcode,
            photo.date_utc,
            photo.carousel_index,
        )
        self.written.add(record, result.digest)
        return True

    def _skip(self, path: Path, reason: str) -> None:
        self.listing.skipped.append({"file": self._rel(path), "reason": reason})
        tqdm.write(f"skipped {self._rel(path)}: {reason}")

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _unique_name(self, stem: str, digest: str) -> str:
        """``stem.jpg``, or ``stem_<hash>.jpg`` when another file already took that name (e.g. a.png beside a.jpg),
        with a longer hash, then a counter, while even that name is taken (a photo named like the fallback)."""
        name, length = f"{stem}.jpg", 8
        while self.written.has_name(name):
            name = f"{stem}_{digest[:length]}.jpg" if length <= len(digest) else f"{stem}_{digest}_{length}.jpg"
            length += 8
        return name

    def _identify(self, path: Path) -> Photo:
        """Post, date and carousel index from instaloader's metadata, else its file name, else the path."""
        found = self._find_meta(path)
        is_cover = path.with_suffix(".mp4").exists()
        if found is not None:
            post_stem, meta = found
            index = 0 if post_stem == path.stem else int(path.stem[len(post_stem) + 1 :])
            return Photo(path.stem, meta.shortcode, meta.date_utc, index, is_cover or index in meta.video_indices)
        match = INSTALOADER_STEM.match(path.stem)
        if match is None:
            stem = re.sub(
                r"[^A-Za-z0-9._-]", "_", path.relative_to(self.root).with_suffix("").as_posix().replace("/", "__")
            )
            return Photo(stem, stem, None, 0, is_cover)
        item = CAROUSEL_ITEM.match(path.stem)
        post_stem, index = (
            (item["post"], int(item["index"])) if item and item["post"].endswith("_UTC") else (path.stem, 0)
        )
        date = datetime.strptime(match["stamp"], STAMP_FORMAT).replace(tzinfo=UTC)
        return Photo(path.stem, post_stem, date, index, is_cover)

    def _find_meta(self, path: Path) -> tuple[str, PostMeta] | None:
        """The post's metadata: ``<stem>.json.xz`` for a single image, ``<post>.json.xz`` for ``<post>_N``."""
        item = CAROUSEL_ITEM.match(path.stem)
        for post_stem in (path.stem, item["post"] if item else None):
            for suffix in METADATA_SUFFIXES if post_stem else ():
                meta = self.post_meta(path.with_name(post_stem + suffix))
                if meta is not None:
                    return post_stem, meta
        return None

    def _read_meta(self, path: Path) -> PostMeta | None:
        if not path.is_file():
            return None
        try:
            return parse_post_structure(read_structure(path))
        except (OSError, EOFError, lzma.LZMAError, ValueError, KeyError, TypeError) as exc:
            self._skip(path, f"unreadable instaloader metadata ({exc!r}); dates and indices taken from file names")
            return None


def read_structure(path: Path) -> Any:
    """An instaloader JSON structure, compressed (``.json.xz``) or not."""
    opener = lzma.open if path.name.endswith(".xz") else open
    with opener(path, "rt", encoding="utf-8") as stream:
        return json.load(stream)


def parse_post_structure(structure: Any) -> PostMeta | None:
    """The post fields we use, or None when the file describes something else (a profile, a story)."""
    if (structure.get("instaloader") or {}).get("node_type") != "Post":
        return None
    node = structure["node"]
    timestamp = node["taken_at_timestamp"] if "taken_at_timestamp" in node else node["date"]
    return PostMeta(
        shortcode=node["shortcode"] if "shortcode" in node else node["code"],
        date_utc=datetime.fromtimestamp(timestamp, UTC),
        video_indices=frozenset(_video_indices(node)),
    )


def _video_indices(node: dict[str, Any]) -> Iterator[int]:
    if node.get("__typename") == "GraphVideo":
        yield 0
    if node.get("__typename") == "GraphSidecar":
        edges = node["edge_sidecar_to_children"]["edges"]
        yield from (i for i, edge in enumerate(edges, start=1) if edge["node"].get("is_video"))

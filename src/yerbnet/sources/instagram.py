"""``source: instagram``: a profile's photos through instaloader 4.16, incrementally, into ``data/raw``.

DVC deletes a stage's outputs before it reruns the stage, so downloads live in a cache
outside them: ``data/instagram-cache/<profile>/``, an ordinary instaloader folder that git
ignores and DVC does not track. The stage then normalises the cache into ``data/raw`` with
the directory source's code, so a rerun over an unchanged cache gives identical bytes.

Safety against interruption: each post is downloaded into ``.partial/`` and moved into the
cache afterwards, metadata last; a post counts as cached once its ``.json.xz`` is there.
Incremental: ``.yerbnet-state.json`` remembers the newest post date of the last walk that
reached the end (or the previous stamp); the next walk stops at the first older post after
the three that may be pinned, as instaloader's ``--latest-stamps`` does. The stamp moves
only when a walk completes, so a run cut short is finished by the next one.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from instaloader import (
    AbortDownloadException,
    ConnectionException,
    Instaloader,
    InstaloaderException,
    LoginRequiredException,
    Post,
    PrivateProfileNotFollowedException,
    Profile,
    ProfileNotExistsException,
    TooManyRequestsException,
)
from instaloader.instaloader import get_default_session_filename
from tqdm import tqdm

from yerbnet import files
from yerbnet.errors import UserError
from yerbnet.params import ScrapeParams
from yerbnet.sources.directory import ingest, parse_post_structure, read_structure

CACHE_ROOT = Path("data/instagram-cache")
STAGING = ".partial"
STATE = ".yerbnet-state.json"
METADATA = ".json.xz"
POSSIBLY_PINNED = 3  # a profile shows up to three pinned posts, of any age, before the newest ones
RECHECK = "dvc repro --force scrape"


@dataclass
class Tally:
    """How far a fetch got, for the progress bar and for error messages."""

    seen: int = 0
    downloaded: int = 0


def scrape_instagram(cfg: ScrapeParams, raw_dir: Path, cache_root: Path = CACHE_ROOT) -> int:
    """Fetch the posts the cache lacks, then write the newest ``max_posts`` posts' photos to ``raw_dir``."""
    cache = prepare_cache(cache_root, cfg.profile)
    tally = fetch(cfg, cache)
    print(
        f"scrape: {tally.downloaded} new of {tally.seen} recent posts of instagram profile '{cfg.profile}' "
        f"downloaded into {cache}"
    )
    return ingest(cache, raw_dir, cfg, source="instagram", shortcodes=newest_posts(cache, cfg.max_posts))


def prepare_cache(cache_root: Path, profile: str) -> Path:
    """The profile's cache folder; the cache root gets a ``.gitignore`` so the photos never reach git."""
    cache = cache_root / profile.lower()
    cache.mkdir(parents=True, exist_ok=True)
    if not (cache_root / ".gitignore").exists():
        files.write_text(cache_root / ".gitignore", "# downloaded photos: never commit them\n*\n")
    return cache


def fetch(cfg: ScrapeParams, cache: Path) -> Tally:
    """Download every post of ``cfg.profile`` the cache lacks; raise :class:`UserError` on any failure."""
    loader = make_loader(cache / STAGING)
    tally = Tally()
    try:
        with (
            explained(cfg, cache, tally),
            tqdm(desc=f"instagram {cfg.profile}", unit="post", total=cfg.max_posts) as bar,
        ):
            login(loader, cfg.session_user)
            profile = Profile.from_username(loader.context, cfg.profile)
            walk(loader, profile.get_posts(), cache, cfg.max_posts, tally, bar)
    finally:
        loader.close()
    for message in loader.context.error_log:  # non-fatal: e.g. no high-resolution version of a photo
        print(f"warning: instaloader: {message}", file=sys.stderr)
    return tally


def make_loader(staging: Path) -> Instaloader:
    """An instaloader that writes one post at a time into ``staging`` and raises every error it meets."""
    loader = Instaloader(
        quiet=True,
        dirname_pattern=str(staging).replace("{", "{{").replace("}", "}}"),
        filename_pattern="{date_utc}_UTC",  # instaloader's default: the names the seed's labels use
        download_videos=False,
        download_video_thumbnails=True,  # cheap, and switching scrape.videos then needs no download
        save_metadata=True,
        resume_prefix=None,  # the stamp in STATE does the resuming
    )
    loader.context.raise_all_errors = True
    return loader


def login(loader: Instaloader, user: str | None) -> None:
    """Load instaloader's own session file: credentials never pass through params, git or DVC."""
    if user is None:
        return
    try:
        loader.load_session_from_file(user)
    except FileNotFoundError:
        raise UserError(
            f"params.yaml: scrape.session_user = {user!r}: no instaloader session file at "
            f"{get_default_session_filename(user)}; create it once with `instaloader --login {user}`"
        ) from None


def walk(
    loader: Instaloader, posts: Iterable[Post], cache: Path, max_posts: int | None, tally: Tally, bar: tqdm
) -> None:
    """Download the posts newer than the stamp that the cache lacks; move the stamp if the walk completes."""
    stamp = read_stamp(cache)
    cached = set(cached_posts(cache))
    newest = stamp
    for number, post in enumerate(posts, start=1):
        if max_posts is not None and number > max_posts:
            return  # cut short: older posts may still be missing, so the stamp stays
        date = post.date_local.astimezone(UTC)
        if stamp is not None and date <= stamp:
            if number > POSSIBLY_PINNED:
                break
            continue
        newest = date if newest is None else max(newest, date)
        if post.shortcode not in cached:
            download(loader, post, cache)
            tally.downloaded += 1
        tally.seen += 1
        bar.update()
        bar.set_postfix(new=tally.downloaded, refresh=False)
    if newest is not None:
        files.write_json(cache / STATE, {"newest_post_utc": newest.isoformat()})


def download(loader: Instaloader, post: Post, cache: Path) -> None:
    """Download ``post`` into the staging folder, then move it into ``cache``, its metadata last."""
    staging = cache / STAGING
    shutil.rmtree(staging, ignore_errors=True)  # whatever an interrupted run left half-written
    staging.mkdir()
    loader.download_post(post, target=cache.name)
    names = sorted(p.name for p in staging.iterdir())
    stem = next(n for n in names if n.endswith(METADATA))[: -len(METADATA)]
    if owner(cache / f"{stem}{METADATA}") not in (None, post.shortcode):
        stem_in_cache = f"{stem}_{post.shortcode}"  # two posts in the same second: keep both
    else:
        stem_in_cache = stem
    for name in sorted(names, key=lambda n: n.endswith(METADATA)):
        os.replace(staging / name, cache / name.replace(stem, stem_in_cache, 1))
    staging.rmdir()


def owner(metadata: Path) -> str | None:
    """Shortcode of the post whose metadata is at ``metadata``, or None (absent or unreadable)."""
    return next(iter(cached_posts_in([metadata])), None)


def cached_posts(cache: Path) -> dict[str, datetime]:
    """Shortcode -> date of every complete post in the cache."""
    return cached_posts_in(sorted(cache.glob(f"*{METADATA}")))


def cached_posts_in(paths: Iterable[Path]) -> dict[str, datetime]:
    posts = {}
    for path in paths:
        try:
            meta = parse_post_structure(read_structure(path))
        except (OSError, EOFError, ValueError, KeyError, TypeError):
            continue  # unreadable: the post is downloaded again
        if meta is not None:
            posts[meta.shortcode] = meta.date_utc
    return posts


def newest_posts(cache: Path, max_posts: int | None) -> frozenset[str]:
    """Shortcodes of the ``max_posts`` newest complete posts in the cache (None: all of them)."""
    posts = cached_posts(cache)
    return frozenset(sorted(posts, key=lambda code: (posts[code], code), reverse=True)[:max_posts])


def read_stamp(cache: Path) -> datetime | None:
    """Date of the newest post of the last complete walk; None (walk everything) if absent or unreadable."""
    try:
        return datetime.fromisoformat(json.loads((cache / STATE).read_text(encoding="utf-8"))["newest_post_utc"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextmanager
def explained(cfg: ScrapeParams, cache: Path, tally: Tally) -> Iterator[None]:
    """Turn instaloader's failures into one line that says what happened and what to do next."""
    try:
        yield
    except ProfileNotExistsException:
        raise UserError(
            f"params.yaml: scrape.profile = {cfg.profile!r}: Instagram has no such profile "
            "(or it blocks this account); check the name"
        ) from None
    except PrivateProfileNotFollowedException:
        raise UserError(
            f"Instagram profile {cfg.profile!r} is private and scrape.session_user = {cfg.session_user!r} "
            "does not follow it; follow it from that account, or log in as one that does"
        ) from None
    except LoginRequiredException:
        raise UserError(
            f"Instagram profile {cfg.profile!r} needs a login (it is private, or Instagram refused anonymous "
            "access); create a session once with `instaloader --login YOUR_USER`, set scrape.session_user: "
            f"YOUR_USER, then run `{RECHECK}`"
        ) from None
    except AbortDownloadException as exc:
        raise UserError(
            f"Instagram interrupted the download with a checkpoint or challenge ({_brief(exc)}); "
            "log in on instagram.com in a browser with that account and complete it, recreate the session "
            f"with `instaloader --login YOUR_USER`, then run `{RECHECK}`; {_kept(tally, cache)}"
        ) from None
    except ConnectionException as exc:
        if _rate_limited(exc):
            raise UserError(
                f"Instagram rate-limited this machine (HTTP 429 Too Many Requests); {_kept(tally, cache)}; "
                f"wait an hour or more, then run `{RECHECK}` to continue where it stopped"
            ) from None
        raise UserError(
            f"could not download from Instagram ({_brief(exc)}); {_kept(tally, cache)}; "
            f"run `{RECHECK}` when the connection is back"
        ) from None
    except InstaloaderException as exc:
        raise UserError(
            f"instaloader failed ({type(exc).__name__}: {_brief(exc)}); {_kept(tally, cache)}; "
            f"run `{RECHECK}` later, or upgrade instaloader if Instagram changed its site"
        ) from None


def _rate_limited(exc: BaseException) -> bool:
    """instaloader reports a run of 429s as a ConnectionException, with the 429 as cause or in the text."""
    chain: BaseException | None = exc
    while chain is not None:
        if isinstance(chain, TooManyRequestsException) or "429 Too Many Requests" in str(chain):
            return True
        chain = chain.__cause__ or chain.__context__
    return False


def _kept(tally: Tally, cache: Path) -> str:
    return f"the {tally.downloaded} posts downloaded in this run are kept in {cache}"


def _brief(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:199] + "…"

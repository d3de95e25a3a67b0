"""source: instagram — real instaloader code end to end, with Instagram replaced at its network boundary.

:class:`FakeInstagram` answers the three ways instaloader 4.16 reaches Instagram: the profile
page's embedded data (``get_page_data``), GraphQL queries (``doc_id_graphql_query``) and HTTP
itself (``requests.Session.request``: media downloads, and any request nobody expected, which
fails the test). Everything between — ``Profile``, ``Post``, ``NodeIterator``, ``download_post``,
retries, 429 handling — is instaloader's own code.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import requests
from instaloader import Instaloader, InstaloaderContext
from instaloader.instaloadercontext import RateController
from PIL import Image

from yerbnet.errors import UserError
from yerbnet.params import ScrapeParams, parse_params
from yerbnet.scrape import scrape
from yerbnet.sources.instagram import STAGING, scrape_instagram
from yerbnet.sources.manifest import read_manifest

START = 1_600_000_000  # 2020-09-13T12:26:40Z
CDN = "https://cdn.test/"


def jpeg_bytes(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (seed * 37 % 256, seed * 91 % 256, seed * 53 % 256)).save(buffer, format="JPEG")
    return buffer.getvalue()


def response(
    status: int, body: bytes = b"", content_type: str = "application/json", url: str = ""
) -> requests.Response:
    resp = requests.Response()
    resp.status_code, resp.url, resp.raw = status, url, io.BytesIO(body)
    resp.reason = {200: "OK", 400: "Bad Request", 429: "Too Many Requests"}[status]
    resp.headers["Content-Type"] = content_type
    return resp


class CutStream(io.RawIOBase):
    """A download that delivers half its bytes, then the user presses Ctrl-C."""

    def __init__(self, data: bytes) -> None:
        self.data = data[: len(data) // 2]

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.data:
            chunk, self.data = self.data, b""
            return chunk
        raise KeyboardInterrupt


class FakeInstagram:
    """One profile whose posts (newest first) are Polaris media dicts, as Instagram's web API sends them."""

    def __init__(self, username: str = "guayaki", private: bool = False) -> None:
        self.username, self.private, self.exists = username, private, True
        self.posts: list[dict[str, Any]] = []
        self.media: dict[str, bytes] = {}
        self.downloads: list[str] = []
        self.post_queries = 0
        self.rate_limit_after: int | None = None  # post queries answered before HTTP 429 starts
        self.checkpoint = False
        self.interrupt_download: int | None = None  # the n-th media download is cut off by Ctrl-C
        self.offline = False  # media downloads fail as when the network goes away

    def add(self, code: str, kind: str = "image", items: tuple[str, ...] = ("image", "image")) -> None:
        """Publish a post, newer than every earlier one."""
        item = {"image": 1, "video": 2}
        media = {
            **self._item(code, item.get(kind, 8)),
            "code": code,
            "pk": str(len(self.posts) + 1000),
            "taken_at": START + 86_400 * len(self.posts),
            "user": {"pk": "42", "username": self.username},
            "caption": {"text": f"{kind} {code}"},
        }
        if kind == "carousel":
            media["carousel_media"] = [self._item(f"{code}-{i}", item[k]) for i, k in enumerate(items, start=1)]
        self.posts.insert(0, media)

    def _item(self, name: str, media_type: int) -> dict[str, Any]:
        url = f"{CDN}{name}.jpg?sig=1"
        self.media[url] = jpeg_bytes(len(self.media) + 1)
        item: dict[str, Any] = {"media_type": media_type, "image_versions2": {"candidates": [{"url": url}]}}
        if media_type == 2:
            item["video_versions"] = [{"url": f"{CDN}{name}.mp4?sig=1"}]
        return item

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeInstagram:
        monkeypatch.setattr(InstaloaderContext, "get_page_data", lambda ctx, path: self.page_data(path))
        monkeypatch.setattr(
            InstaloaderContext, "doc_id_graphql_query", lambda ctx, *a, **kw: self.graphql(ctx, *a, **kw)
        )
        monkeypatch.setattr(requests.Session, "request", lambda session, *a, **kw: self.http(session, *a, **kw))
        monkeypatch.setattr(InstaloaderContext, "do_sleep", lambda ctx: None)
        monkeypatch.setattr(RateController, "sleep", lambda controller, seconds: None)
        return self

    def page_data(self, path: str) -> list[dict[str, Any]]:
        assert path == f"{self.username}/"
        if not self.exists:
            return []
        timeline = {"edges": [{"node": {"code": p["code"]}} for p in self.posts], "page_info": {"has_next_page": False}}
        return [
            {
                "xig_user_by_username": {
                    "pk": "42",
                    "id": "page-42",
                    "username": self.username,
                    "is_private": self.private,
                    "polaris_ordered_timeline_connection": timeline,
                }
            }
        ]

    def graphql(
        self,
        ctx: InstaloaderContext,
        doc_id: str,
        variables: dict[str, Any],
        referer: str | None = None,
        web_api: bool = False,
    ) -> dict[str, Any]:
        if "shortcode" not in variables:  # the logged-in profile query
            return {
                "data": {
                    "user": {
                        "pk": "42",
                        "username": self.username,
                        "is_private": self.private,
                        "friendship_status": {"following": False},
                    }
                }
            }
        self.post_queries += 1
        if self.checkpoint or (self.rate_limit_after is not None and self.post_queries > self.rate_limit_after):
            return ctx.get_json("api/graphql", params={"doc_id": doc_id}, use_post=True)  # real retries
        media = next(p for p in self.posts if p["code"] == variables["shortcode"])
        return {"data": {"xdt_api__v1__media__shortcode__web_info": {"items": [json.loads(json.dumps(media))]}}}

    def http(self, session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
        if url.endswith("/api/graphql"):
            if self.checkpoint:
                return response(400, b'{"message": "checkpoint_required", "status": "fail"}', url=url)
            return response(429, b'{"message": "Please wait a few minutes", "status": "fail"}', url=url)
        assert url in self.media, f"unexpected network access: {method} {url}"
        if self.offline:
            raise requests.exceptions.ConnectionError("Max retries exceeded (network is unreachable)")
        self.downloads.append(url)
        resp = response(200, self.media[url], "image/jpeg", url)
        if self.interrupt_download == len(self.downloads):
            resp.raw = CutStream(self.media[url])
        return resp


@pytest.fixture
def instagram(monkeypatch: pytest.MonkeyPatch) -> FakeInstagram:
    return FakeInstagram().install(monkeypatch)


def params(**scrape_params: Any) -> ScrapeParams:
    return parse_params({"scrape": {"source": "instagram", **scrape_params}}).scrape


def run(tmp_path: Path, **scrape_params: Any) -> list[dict[str, Any]]:
    scrape_instagram(params(**scrape_params), tmp_path / "raw", cache_root=tmp_path / "cache")
    return read_manifest(tmp_path / "raw").to_dict("records")


def cached(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "cache/guayaki").iterdir() if not p.name.startswith("."))


def test_a_single_image_post(instagram: FakeInstagram, tmp_path: Path) -> None:
    instagram.add("Csingle0001")

    rows = run(tmp_path)

    assert [(r["file"], r["shortcode"], r["date_utc"], r["carousel_index"], r["source"]) for r in rows] == [
        ("2020-09-13_12-26-40_UTC.jpg", "Csingle0001", "2020-09-13T12:26:40Z", 0, "instagram")
    ]
    assert cached(tmp_path) == [
        "2020-09-13_12-26-40_UTC.jpg",
        "2020-09-13_12-26-40_UTC.json.xz",
        "2020-09-13_12-26-40_UTC.txt",
    ]
    assert Image.open(tmp_path / "raw/images" / rows[0]["file"]).size == (32, 24)


def test_each_carousel_photo_becomes_an_image_and_its_videos_do_not(instagram: FakeInstagram, tmp_path: Path) -> None:
    instagram.add("Ccarousel01", "carousel", items=("image", "video", "image"))

    rows = run(tmp_path)

    assert [(r["file"], r["shortcode"], r["carousel_index"]) for r in rows] == [
        ("2020-09-13_12-26-40_UTC_1.jpg", "Ccarousel01", 1),
        ("2020-09-13_12-26-40_UTC_3.jpg", "Ccarousel01", 3),
    ]
    assert not any(url.endswith(".mp4?sig=1") for url in instagram.downloads)


def test_a_video_post_is_skipped_unless_its_cover_is_wanted(instagram: FakeInstagram, tmp_path: Path) -> None:
    instagram.add("Cphoto00001")
    instagram.add("Cvideo00001", "video")

    assert [r["shortcode"] for r in run(tmp_path)] == ["Cphoto00001"]
    downloads = len(instagram.downloads)
    assert [r["shortcode"] for r in run(tmp_path, videos="thumbnail")] == ["Cphoto00001", "Cvideo00001"]
    assert len(instagram.downloads) == downloads  # the cover was cached the first time


def test_a_rerun_with_nothing_new_downloads_nothing(instagram: FakeInstagram, tmp_path: Path) -> None:
    for i in range(8):
        instagram.add(f"Cpost{i:06d}")
    run(tmp_path)
    first = (tmp_path / "raw/posts.csv").read_bytes()
    instagram.downloads.clear()
    instagram.post_queries = 0

    rows = run(tmp_path)

    assert instagram.downloads == []
    assert instagram.post_queries == 4  # up to three possibly pinned posts, then the first already-seen one
    assert len(rows) == 8 and (tmp_path / "raw/posts.csv").read_bytes() == first


def test_a_rerun_after_one_new_post_downloads_only_that_post(instagram: FakeInstagram, tmp_path: Path) -> None:
    for i in range(5):
        instagram.add(f"Cpost{i:06d}")
    run(tmp_path)
    instagram.downloads.clear()
    instagram.add("Cnewpost001", "carousel")

    rows = run(tmp_path)

    assert sorted(instagram.downloads) == [f"{CDN}Cnewpost001-1.jpg?sig=1", f"{CDN}Cnewpost001-2.jpg?sig=1"]
    assert len(rows) == 7


def test_an_interrupted_run_leaves_no_partial_file_and_the_next_run_completes_it(
    instagram: FakeInstagram, tmp_path: Path
) -> None:
    instagram.add("Cold0000001")
    instagram.add("Ccarousel01", "carousel", items=("image", "image", "image"))
    instagram.add("Cnewest0001")
    instagram.interrupt_download = 3  # newest post, then carousel item 1, then Ctrl-C inside item 2

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path)
    assert cached(tmp_path) == [
        "2020-09-15_12-26-40_UTC.jpg",
        "2020-09-15_12-26-40_UTC.json.xz",
        "2020-09-15_12-26-40_UTC.txt",
    ]  # only the complete post

    instagram.interrupt_download = None
    instagram.downloads.clear()
    rows = run(tmp_path)

    assert [r["shortcode"] for r in rows] == ["Cold0000001", "Ccarousel01", "Ccarousel01", "Ccarousel01", "Cnewest0001"]
    assert len(instagram.downloads) == 4  # the carousel again, and the oldest post; not the newest
    assert not (tmp_path / "cache/guayaki" / STAGING).exists()


def test_rate_limiting_ends_in_a_clear_error_and_keeps_what_was_downloaded(
    instagram: FakeInstagram, tmp_path: Path
) -> None:
    for i in range(4):
        instagram.add(f"Cpost{i:06d}")
    instagram.rate_limit_after = 2

    with pytest.raises(
        UserError,
        match=r"rate-limited .*HTTP 429.*the 2 posts downloaded in this run are kept "
        r"in .*cache/guayaki; wait an hour or more, then run `dvc repro --force scrape`",
    ):
        run(tmp_path)
    assert len([n for n in cached(tmp_path) if n.endswith(".jpg")]) == 2

    instagram.rate_limit_after = None
    instagram.downloads.clear()
    assert len(run(tmp_path)) == 4
    assert len(instagram.downloads) == 2


def test_a_lost_connection_is_explained(instagram: FakeInstagram, tmp_path: Path) -> None:
    instagram.add("Cpost000001")
    instagram.offline = True

    with pytest.raises(
        UserError,
        match=r"could not download from Instagram \(.*network is unreachable.*\); the 0 posts "
        r"downloaded in this run are kept in .*; run `dvc repro --force scrape` when",
    ):
        run(tmp_path)


def test_a_checkpoint_is_explained(instagram: FakeInstagram, tmp_path: Path) -> None:
    instagram.add("Cpost000001")
    instagram.checkpoint = True

    with pytest.raises(UserError, match=r"checkpoint or challenge .*instaloader --login YOUR_USER"):
        run(tmp_path)


def test_a_private_profile_asks_for_a_login(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    FakeInstagram(private=True).install(monkeypatch)

    with pytest.raises(
        UserError, match=r"'guayaki' needs a login .*instaloader --login YOUR_USER.*scrape.session_user"
    ):
        run(tmp_path)


def test_a_missing_profile_names_the_param(instagram: FakeInstagram, tmp_path: Path) -> None:
    instagram.exists = False

    with pytest.raises(UserError, match=r"scrape.profile = 'guayaki': Instagram has no such profile"):
        run(tmp_path)


def test_a_missing_session_file_says_how_to_create_it(
    instagram: FakeInstagram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))

    with pytest.raises(
        UserError,
        match=r"session_user = 'me': no instaloader session file at .*config/instaloader/"
        r"session-me; create it once with `instaloader --login me`",
    ):
        run(tmp_path, session_user="me")


def test_a_logged_in_run_uses_the_session_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    FakeInstagram(private=True).install(monkeypatch)
    session_maker = Instaloader(quiet=True)
    session_maker.context.username = "me"
    session_maker.save_session_to_file()  # what `instaloader --login me` leaves behind

    with pytest.raises(UserError, match=r"'guayaki' is private and scrape.session_user = 'me' does not follow it"):
        run(tmp_path, session_user="me")


def test_max_posts_keeps_the_newest_posts(instagram: FakeInstagram, tmp_path: Path) -> None:
    for i in range(5):
        instagram.add(f"Cpost{i:06d}")
    run(tmp_path)

    rows = run(tmp_path, max_posts=2)

    assert [r["shortcode"] for r in rows] == ["Cpost000003", "Cpost000004"]


def test_an_image_without_its_post_metadata_is_not_used(instagram: FakeInstagram, tmp_path: Path) -> None:
    instagram.add("Cpost000001")
    run(tmp_path)
    (tmp_path / "cache/guayaki/2019-01-01_00-00-00_UTC.jpg").write_bytes(jpeg_bytes(99))  # a move cut short

    assert [r["shortcode"] for r in run(tmp_path)] == ["Cpost000001"]


def test_two_posts_in_the_same_second_are_both_kept(instagram: FakeInstagram, tmp_path: Path) -> None:
    instagram.add("Cfirst00001")
    instagram.add("Csecond0001")
    instagram.posts[0]["taken_at"] = instagram.posts[1]["taken_at"]

    rows = run(tmp_path)

    assert sorted(r["shortcode"] for r in rows) == ["Cfirst00001", "Csecond0001"]


def test_the_stage_dispatches_to_instagram_and_the_cache_is_git_ignored(
    instagram: FakeInstagram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instagram.add("Csingle0001")
    monkeypatch.chdir(tmp_path)

    assert scrape(params(), seed=0, raw_dir=Path("data/raw")) == 1

    assert list(read_manifest(Path("data/raw"))["shortcode"]) == ["Csingle0001"]
    assert (tmp_path / "data/instagram-cache/.gitignore").read_text().endswith("*\n")

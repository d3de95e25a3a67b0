"""source: directory — an instaloader folder is understood, and every kind of bad file is skipped and reported."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from instaloader import Instaloader, Post
from instaloader.structures import save_structure_to_file
from PIL import Image

from yerbnet.errors import UserError
from yerbnet.params import ScrapeParams, parse_params
from yerbnet.scrape import scrape
from yerbnet.sources.directory import REPORT, ingest
from yerbnet.sources.manifest import read_manifest


def jpeg(colour: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (40, 30), **save: Any) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG", **save)
    return buffer.getvalue()


def noisy_jpeg() -> bytes:
    """A photo-like JPEG whose pixel data is most of the file, so cutting it truncates the pixels."""
    return encoded(Image.effect_noise((200, 150), 60).convert("RGB"), "JPEG")


def encoded(image: Image.Image, fmt: str, **save: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels, as a decompression bomb does."""
    png = encoded(Image.new("1", (1, 1)), "PNG")
    ihdr = png[12:16] + struct.pack(">II", width, height) + png[24:29]
    return png[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + png[33:]


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def post_metadata(path: Path, node: dict[str, Any]) -> None:
    """Metadata written by instaloader's own code, exactly as ``download_post`` saves it."""
    save_structure_to_file(Post(Instaloader().context, node), str(path))


def run(folder: Path, raw: Path, **scrape_params: Any) -> list[dict[str, Any]]:
    cfg = parse_params({"scrape": {"source": "directory", "directory": str(folder), **scrape_params}}).scrape
    scrape(cfg, seed=0, raw_dir=raw)
    return read_manifest(raw).to_dict("records")


def report(raw: Path) -> dict[str, Any]:
    return json.loads((raw / REPORT).read_text())


def skipped(raw: Path) -> dict[str, str]:
    return {s["file"]: s["reason"] for s in report(raw)["skipped"]}


@pytest.fixture
def instaloader_folder(tmp_path: Path) -> Path:
    """What `instaloader guayaki` leaves: a photo, a carousel, a video, captions, metadata, profile picture, id."""
    folder = tmp_path / "guayaki"
    write(folder / "2021-03-04_05-06-07_UTC.jpg", jpeg((10, 150, 140)))
    write(folder / "2021-03-04_05-06-07_UTC.txt", b"Enlightenmint")
    post_metadata(
        folder / "2021-03-04_05-06-07_UTC.json.xz",
        {"shortcode": "CMsingle001", "__typename": "GraphImage", "taken_at_timestamp": 1614834367, "is_video": False},
    )
    for index, colour in ((1, (205, 20, 125)), (2, (35, 65, 200)), (3, (90, 90, 90))):
        write(folder / f"2021-05-06_07-08-09_UTC_{index}.jpg", jpeg(colour))
    write(folder / "2021-05-06_07-08-09_UTC_3.mp4", b"\x00\x00\x00\x18ftypmp42")
    post_metadata(
        folder / "2021-05-06_07-08-09_UTC.json.xz",
        {
            "shortcode": "CMcarousel1",
            "__typename": "GraphSidecar",
            "taken_at_timestamp": 1620284889,
            "is_video": False,
            "edge_sidecar_to_children": {
                "edges": [{"node": {"is_video": False}}, {"node": {"is_video": False}}, {"node": {"is_video": True}}]
            },
        },
    )
    write(folder / "2021-07-08_09-10-11_UTC.jpg", jpeg((245, 215, 40)))
    write(folder / "2021-07-08_09-10-11_UTC.mp4", b"\x00\x00\x00\x18ftypmp42")
    post_metadata(
        folder / "2021-07-08_09-10-11_UTC.json.xz",
        {"shortcode": "CMvideo0001", "__typename": "GraphVideo", "taken_at_timestamp": 1625735411, "is_video": True},
    )
    write(folder / "2020-01-01_00-00-00_UTC_profile_pic.jpg", jpeg((0, 0, 0)))
    write(folder / "id", b"1234567\n")
    return folder


def test_an_instaloader_folder_gives_posts_dates_and_carousel_indices(instaloader_folder: Path, tmp_path: Path) -> None:
    rows = run(instaloader_folder, tmp_path / "raw")

    assert [(r["file"], r["shortcode"], r["date_utc"], r["carousel_index"]) for r in rows] == [
        ("2021-03-04_05-06-07_UTC.jpg", "CMsingle001", "2021-03-04T05:06:07Z", 0),
        ("2021-05-06_07-08-09_UTC_1.jpg", "CMcarousel1", "2021-05-06T07:08:09Z", 1),
        ("2021-05-06_07-08-09_UTC_2.jpg", "CMcarousel1", "2021-05-06T07:08:09Z", 2),
    ]
    assert {r["source"] for r in rows} == {"directory"}
    assert sorted(p.name for p in (tmp_path / "raw/images").iterdir()) == [r["file"] for r in rows]
    assert report(tmp_path / "raw")["ignored"] == {
        "metadata": 5,
        "profile picture": 1,
        "video": 2,
        "video cover (scrape.videos = skip)": 2,
    }
    assert report(tmp_path / "raw")["skipped"] == []


def test_video_covers_become_photos_when_asked(instaloader_folder: Path, tmp_path: Path) -> None:
    rows = run(instaloader_folder, tmp_path / "raw", videos="thumbnail")

    assert {r["file"] for r in rows} >= {"2021-05-06_07-08-09_UTC_3.jpg", "2021-07-08_09-10-11_UTC.jpg"}
    assert len(rows) == 5


def test_without_metadata_the_file_names_give_date_index_and_a_post_id(tmp_path: Path) -> None:
    write(tmp_path / "in/2019-12-31_23-59-58_UTC_1.jpg", jpeg((1, 2, 3)))
    write(tmp_path / "in/2019-12-31_23-59-58_UTC_2.jpg", jpeg((4, 5, 6)))

    rows = run(tmp_path / "in", tmp_path / "raw")

    assert [(r["shortcode"], r["date_utc"], r["carousel_index"]) for r in rows] == [
        ("2019-12-31_23-59-58_UTC", "2019-12-31T23:59:58Z", 1),
        ("2019-12-31_23-59-58_UTC", "2019-12-31T23:59:58Z", 2),
    ]


def test_any_nesting_and_any_names_get_stable_unique_jpeg_names(tmp_path: Path) -> None:
    write(tmp_path / "in/trip/IMG 0001.JPG", jpeg((1, 2, 3)))
    write(tmp_path / "in/trip/IMG 0001.png", encoded(Image.new("RGB", (8, 8), (9, 9, 9)), "PNG"))
    write(tmp_path / "in/home/deep/can.webp", encoded(Image.new("RGB", (8, 8), (7, 7, 7)), "WEBP"))

    rows = run(tmp_path / "in", tmp_path / "raw")

    names = [r["file"] for r in rows]
    assert names[0] == "home__deep__can.jpg"
    assert names[1] == "trip__IMG_0001.jpg"
    assert names[2].startswith("trip__IMG_0001_") and names[2].endswith(".jpg")
    assert [r["date_utc"] for r in rows] == ["", "", ""]
    assert all(r["shortcode"] == r["file"].removesuffix(".jpg") or r["carousel_index"] == 0 for r in rows)


def test_a_photo_named_like_another_ones_fallback_name_does_not_stop_the_stage(tmp_path: Path) -> None:
    png = encoded(Image.new("RGB", (8, 8), (9, 9, 9)), "PNG")
    fallback = f"z__a_{hashlib.sha256(png).hexdigest()[:8]}.jpg"
    write(tmp_path / "in" / fallback, jpeg((5, 5, 5)))  # top-level files are walked first
    write(tmp_path / "in/z/a.jpg", jpeg((1, 2, 3)))
    write(tmp_path / "in/z/a.png", png)

    rows = run(tmp_path / "in", tmp_path / "raw")

    by_original = {r["original"]: r["file"] for r in rows}
    assert by_original[fallback] == fallback
    assert by_original["z/a.jpg"] == "z__a.jpg"
    assert by_original["z/a.png"] == f"z__a_{hashlib.sha256(png).hexdigest()[:16]}.jpg"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("truncated.jpg", (half := noisy_jpeg())[: len(half) // 2], "corrupt or truncated image"),
        ("empty.jpg", b"", "empty file (0 bytes)"),
        ("notes.jpg", b"this is not a photo, just text\n", "not an image format Pillow can read"),
        ("bomb.png", bomb_png(30_000, 30_000), "refused as a possible decompression bomb"),
        ("huge.png", bomb_png(9_000, 9_000), "81000000 pixels, over scrape.max_pixels = 64000000"),
    ],
)
def test_a_bad_file_is_skipped_named_and_the_rest_goes_on(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    write(tmp_path / "in/good.jpg", jpeg())
    write(tmp_path / "in" / name, data)

    rows = run(tmp_path / "in", tmp_path / "raw")

    assert [r["file"] for r in rows] == ["good.jpg"]
    assert reason in skipped(tmp_path / "raw")[name]


def test_every_image_mode_becomes_8_bit_rgb_jpeg(tmp_path: Path) -> None:
    transparent = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    transparent.putpixel((0, 0), (255, 0, 0, 255))
    write(tmp_path / "in/alpha.png", encoded(transparent, "PNG"))
    write(tmp_path / "in/grey.jpg", encoded(Image.new("L", (10, 10), 77), "JPEG"))
    write(tmp_path / "in/cmyk.jpg", encoded(Image.new("CMYK", (10, 10), (0, 255, 255, 0)), "JPEG"))
    write(tmp_path / "in/deep.png", encoded(Image.new("I;16", (10, 10), 32_896), "PNG"))

    run(tmp_path / "in", tmp_path / "raw")

    out = {p.stem: Image.open(p) for p in (tmp_path / "raw/images").iterdir()}
    assert {name: (im.format, im.mode) for name, im in out.items()} == {
        name: ("JPEG", "RGB") for name in ("alpha", "grey", "cmyk", "deep")
    }
    assert _near(out["alpha"].getpixel((9, 9)), (255, 255, 255))  # transparent -> white, not black
    assert _near(out["grey"].getpixel((5, 5)), (77, 77, 77))
    assert _near(out["cmyk"].getpixel((5, 5)), (255, 0, 0))
    assert _near(out["deep"].getpixel((5, 5)), (128, 128, 128))  # scaled from 16 bits, not clipped to white


def _near(pixel: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 6) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected))


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    photo = Image.new("RGB", (60, 20), (0, 0, 255))
    photo.paste((255, 255, 0), (0, 0, 10, 20))  # yellow strip on the stored image's left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    write(tmp_path / "in/phone.jpg", encoded(photo, "JPEG", exif=exif.tobytes()))

    rows = run(tmp_path / "in", tmp_path / "raw")

    assert (rows[0]["width"], rows[0]["height"]) == (20, 60)
    upright = Image.open(tmp_path / "raw/images/phone.jpg")
    assert _near(upright.getpixel((10, 3)), (255, 255, 0), tolerance=40)  # the strip is now on top
    assert 0x0112 not in upright.getexif()


def test_large_photos_are_shrunk_to_max_side(tmp_path: Path) -> None:
    write(tmp_path / "in/big.jpg", jpeg(size=(1600, 1200)))

    rows = run(tmp_path / "in", tmp_path / "raw", max_side=400)

    assert (rows[0]["width"], rows[0]["height"]) == (400, 300)


def test_duplicates_are_kept_once_and_reported(tmp_path: Path) -> None:
    same = jpeg((1, 100, 1))
    write(tmp_path / "in/a/first.jpg", same)
    write(tmp_path / "in/b/again.jpg", same)

    rows = run(tmp_path / "in", tmp_path / "raw")

    assert [r["file"] for r in rows] == ["a__first.jpg"]
    assert skipped(tmp_path / "raw") == {"b/again.jpg": "duplicate of a/first.jpg (same content); kept once"}


def test_symlinks_leading_outside_the_folder_are_not_followed(tmp_path: Path) -> None:
    outside = write(tmp_path / "private/secret.jpg", jpeg((0, 0, 1)))
    write(tmp_path / "in/ok.jpg", jpeg())
    (tmp_path / "in/link.jpg").symlink_to(outside)
    (tmp_path / "in/linked_folder").symlink_to(tmp_path / "private", target_is_directory=True)

    rows = run(tmp_path / "in", tmp_path / "raw")

    assert [r["file"] for r in rows] == ["ok.jpg"]
    reasons = skipped(tmp_path / "raw")
    assert "outside the folder; not followed" in reasons["link.jpg"]
    assert reasons["linked_folder"] == "symlinked folder, not followed"


def test_dangling_symlinks_and_symlink_loops_are_skipped_and_reported(tmp_path: Path) -> None:
    write(tmp_path / "in/ok.jpg", jpeg())
    (tmp_path / "in/gone.jpg").symlink_to(tmp_path / "in/deleted.jpg")
    (tmp_path / "in/loop_a.jpg").symlink_to(tmp_path / "in/loop_b.jpg")
    (tmp_path / "in/loop_b.jpg").symlink_to(tmp_path / "in/loop_a.jpg")

    rows = run(tmp_path / "in", tmp_path / "raw")

    assert [r["file"] for r in rows] == ["ok.jpg"]
    reasons = skipped(tmp_path / "raw")
    assert reasons["gone.jpg"] == f"symlink to {tmp_path / 'in/deleted.jpg'}, which does not exist; not followed"
    assert reasons["loop_a.jpg"].endswith("a loop of symlinks; not followed")


def test_dvc_refuses_a_photo_folder_with_a_dangling_symlink_in_one_line_naming_it(tmp_path: Path) -> None:
    """What the README promises a user of `dvc repro`: DVC hashes the folder before scrape runs."""
    import os
    import subprocess
    import sys

    write(tmp_path / "photos/ok.jpg", jpeg())
    (tmp_path / "photos/gone.jpg").symlink_to(tmp_path / "photos/deleted.jpg")
    (tmp_path / "dvc.yaml").write_text("stages:\n  scrape:\n    cmd: ls photos\n    deps: [photos]\n")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(command, cwd=tmp_path, env=env, check=True)
    done = subprocess.run(["dvc", "repro"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert f"No such file or directory: '{tmp_path / 'photos/gone.jpg'}'" in done.stderr.strip().splitlines()[-1]


def test_no_usable_image_fails_with_the_report_written(tmp_path: Path) -> None:
    write(tmp_path / "in/empty.jpg", b"")
    write(tmp_path / "in/clip.mp4", b"video")

    with pytest.raises(UserError, match=r"no usable image among its files; see .*scrape_report.json"):
        run(tmp_path / "in", tmp_path / "raw")
    assert skipped(tmp_path / "raw") == {"empty.jpg": "empty file (0 bytes)"}


def test_a_missing_folder_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"scrape.directory = '.*nowhere': folder not found"):
        run(tmp_path / "nowhere", tmp_path / "raw")


def test_two_runs_give_byte_identical_output_and_no_stale_files(instaloader_folder: Path, tmp_path: Path) -> None:
    write(instaloader_folder / "broken.jpg", b"\xff\xd8\xff")
    run(instaloader_folder, tmp_path / "raw")
    first = _tree_hashes(tmp_path / "raw")
    write(tmp_path / "raw/images/stale.jpg", jpeg())

    run(instaloader_folder, tmp_path / "raw")

    assert _tree_hashes(tmp_path / "raw") == first


def test_output_is_byte_identical_whatever_the_number_of_workers(instaloader_folder: Path, tmp_path: Path) -> None:
    for i in range(40):  # more photos than the workers' window, with duplicates, clashing names and a bad file
        write(instaloader_folder / f"more/{i:02d}.jpg", jpeg((i * 6, 255 - i * 6, i % 7 * 30), (60 + i, 50)))
    write(instaloader_folder / "more/07.png", encoded(Image.new("RGB", (30, 30), (1, 2, 3)), "PNG"))
    write(instaloader_folder / "more/dup.jpg", (instaloader_folder / "more/05.jpg").read_bytes())
    write(instaloader_folder / "more/broken.jpg", b"\xff\xd8\xff")
    cfg = parse_params({"scrape": {"source": "directory", "directory": str(instaloader_folder)}}).scrape
    trees = []
    for workers in (1, 4):
        ingest(instaloader_folder, tmp_path / f"raw{workers}", cfg, source="directory", workers=workers)
        trees.append(_tree_hashes(tmp_path / f"raw{workers}"))

    assert trees[0] == trees[1]
    assert len(trees[0]) == 2 + 3 + 41  # posts.csv and the report, 3 instaloader photos, 40 JPEGs and the PNG
    assert "duplicate of more/05.jpg" in skipped(tmp_path / "raw4")["more/dup.jpg"]


def _tree_hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_scrape_params_defaults_match_params_yaml() -> None:
    assert ScrapeParams().directory == "photos"
    assert Path("photos").is_dir(), "dvc.yaml depends on scrape.directory, so the default folder must exist"

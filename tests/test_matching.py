"""Export rows find the photo the user uploaded, whatever scrape renamed it to."""

import json
from pathlib import Path

import pytest
from PIL import Image

from yerbnet.errors import UserError
from yerbnet.labels import azure
from yerbnet.labels.import_labels import import_labels
from yerbnet.labels.matching import Matcher, url_parts
from yerbnet.labels.table import read_labels_table
from yerbnet.params import parse_params
from yerbnet.scrape import scrape
from yerbnet.sources.manifest import read_manifest

# A phone-photo folder as users have them, and the labels Azure gives each upload.
UPLOADED = {
    "IMG_0001.JPG": ["Cans/Lemon"],
    "Summer trip/IMG 0002.jpeg": ["Bottles/Mint"],
    "Summer trip/day 2/IMG_0001.JPG": ["No Yerb"],  # same file name as the first, in another folder
    "Winter/IMG 0002.jpeg": ["Cans/Revelberry"],  # same file name as in Summer trip
    "DSC_0003.png": ["Cans/Slim/Gold"],
    "Frühling-4.JPEG": ["No Yerb"],
    "exports/photo.webp": ["Bottles/Raspberry"],
    "a b/c%d.jpg": ["Cans"],
    "café/ñandú.tif": ["No Yerb"],
}


@pytest.fixture
def scraped(tmp_path: Path) -> dict[str, str]:
    """Scrape that folder with the directory source; return posts.csv's file -> original."""
    folder = tmp_path / "photos"
    for number, relative in enumerate(UPLOADED):
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (24, 16), (10 * number, 80, 200)).save(folder / relative)
    cfg = parse_params({"scrape": {"source": "directory", "directory": str(folder)}}).scrape
    scrape(cfg, seed=0, raw_dir=tmp_path / "raw")
    manifest = read_manifest(tmp_path / "raw")
    return dict(zip(manifest["file"], manifest["original"]))


def test_posts_csv_keeps_each_photos_original_relative_path(scraped):
    assert sorted(scraped.values()) == sorted(UPLOADED)
    assert scraped["Summer_trip__IMG_0002.jpg"] == "Summer trip/IMG 0002.jpeg"


@pytest.mark.parametrize(
    "prefix",
    [
        "AmlDatastore://workspaceblobstore/UI/11-30-2026_093012_UTC/",
        "azureml://subscriptions/s/resourcegroups/r/workspaces/w/datastores/ds/paths/x/",
        "https://acct.blob.core.windows.net/container/labelling/",
        "",
    ],
)
def test_every_row_of_an_export_made_from_the_folder_matches(tmp_path, scraped, prefix):
    def url(relative: str) -> str:
        return prefix + (
            relative.replace(" ", "%20").replace("%d", "%25d") if prefix.startswith("azureml") else relative
        )

    export = tmp_path / "export.csv"
    azure.write_csv_export(export, [(url(rel), labels) for rel, labels in UPLOADED.items()])
    counts = import_labels(export, scraped, tmp_path / "labels")
    assert counts["rows_without_image"] == 0
    stored = {original: file for file, original in scraped.items()}
    assert read_labels_table(tmp_path / "labels" / "labels.csv") == {
        stored[rel]: labels for rel, labels in sorted(UPLOADED.items(), key=lambda kv: stored[kv[0]])
    }


def test_a_file_name_alone_matches_when_it_is_unique_and_is_reported_when_not(tmp_path, scraped):
    export = tmp_path / "export.csv"
    azure.write_csv_export(
        export,
        [
            ("AmlDatastore://ds/flat/DSC_0003.png", ["Cans/Slim/Gold"]),
            ("AmlDatastore://ds/flat/IMG 0002.jpeg", ["Cans/Lemon"]),
            ("AmlDatastore://ds/flat/gone.jpg", ["Cans"]),
        ],
    )
    counts = import_labels(export, scraped, tmp_path / "labels", parse_params({"labels": {"min_matched": 0.3}}).labels)
    assert counts["matched_images"] == 1 and counts["rows_without_image"] == 2
    report = json.loads((tmp_path / "labels" / "report.json").read_text())
    assert report["ambiguous_rows"] == 1
    assert report["examples"]["ambiguous_rows"] == {
        "AmlDatastore://ds/flat/IMG 0002.jpeg": ["Summer_trip__IMG_0002.jpg", "Winter__IMG_0002.jpg"]
    }
    assert report["examples"]["rows_without_image"] == ["AmlDatastore://ds/flat/gone.jpg"]


def test_too_few_matches_stop_with_examples_of_what_the_export_calls_its_photos(tmp_path, scraped):
    export = tmp_path / "export.csv"
    azure.write_csv_export(
        export, [("AmlDatastore://ds/x/other1.jpg", ["Cans"]), ("AmlDatastore://ds/x/IMG 0002.jpeg", [])]
    )
    with pytest.raises(UserError, match=r"only 0 of its 2 rows .*'AmlDatastore://ds/x/other1.jpg'.*1 ambiguous"):
        import_labels(export, scraped, tmp_path / "labels")


def test_names_match_in_either_unicode_form_and_by_the_stored_name():
    matcher = Matcher({"Fru_hling.jpg": "Fru\u0308hling.JPG", "a.jpg": "x/a.png"})  # macOS: decomposed
    assert matcher.match("AmlDatastore://ds/Fr%C3%BChling.JPG").file == "Fru_hling.jpg"
    assert matcher.match("a.jpg").file == "a.jpg"  # an export of data/raw/images itself
    assert matcher.match("y/a.png").file == "a.jpg"  # unique file name, another folder


def test_a_url_that_climbs_out_of_its_folder_is_refused():
    with pytest.raises(UserError, match=r"climbs out"):
        url_parts("AmlDatastore://ds/images/../../etc/passwd")

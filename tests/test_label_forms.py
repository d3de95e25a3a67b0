"""Every Azure ML Data Labeling export form, read from content, gives the same labels and the same data set."""

import json
from pathlib import Path

import pandas as pd
import pytest

from yerbnet.encode import encode, write_encoded
from yerbnet.errors import UserError
from yerbnet.labels.forms import read_export
from yerbnet.labels.import_labels import import_labels
from yerbnet.labels.matching import url_parts
from yerbnet.labels.table import read_labels_table
from yerbnet.params import EncodeParams

FIXTURES = Path(__file__).parent / "fixtures" / "azure"
FORMS = {"coco": "export.coco.json", "jsonl": "export.jsonl", "csv": "export.csv"}
SCRAPED = [
    "2016-01-01_11-56-16_UTC.jpg",
    "2016-02-03_09-00-00_UTC_1.jpg",
    "2016-02-03_09-00-00_UTC_2.jpg",
    "my photo.jpg",
    "2016-04-05_12-00-00_UTC.jpg",
    "2017-01-01_00-00-00_UTC.jpg",
]
# What the three fixtures say, whatever their notation.
EXPECTED = {
    "2016-01-01_11-56-16_UTC.jpg": ["Bottles/Mint", "Cans/Slim/Cranpom"],
    "2016-02-03_09-00-00_UTC_1.jpg": ["Cans/lemon"],  # " cans/lemon ": trimmed, and "cans" spelt like the other Cans
    "2016-02-03_09-00-00_UTC_2.jpg": ["No Yerb"],
    "my photo.jpg": ["Cans/Enlightenmint", "No Yerb"],  # a conflict: kept here, resolved by encode
}


def _copy(tmp_path: Path, name: str, suffix: str = "") -> Path:
    """A fixture under another name: the form comes from the content, not the suffix."""
    path = tmp_path / f"export{suffix}"
    path.write_bytes((FIXTURES / name).read_bytes())
    return path


@pytest.mark.parametrize(("form", "name"), FORMS.items())
def test_each_form_is_told_from_its_content(tmp_path, form, name):
    export = read_export(_copy(tmp_path, name, suffix=".txt"))
    assert export.form == form
    by_name = {url_parts(url)[-1]: sorted(labels) for url, labels in export.rows}
    assert len(export.rows) == 6
    assert by_name["2016-04-05_12-00-00_UTC.jpg"] == []
    assert by_name["my photo.jpg"] == ["Cans/Enlightenmint", "No Yerb"]


@pytest.mark.parametrize("name", FORMS.values())
def test_every_form_imports_to_the_same_labels_table(tmp_path, name):
    report = import_labels(FIXTURES / name, SCRAPED, tmp_path)
    assert read_labels_table(tmp_path / "labels.csv") == EXPECTED
    assert report == {
        "rows_read": 6,
        "matched_images": 5,
        "rows_without_image": 1,
        "duplicate_rows_merged": 0,
        "images_without_labels": 2,
    }
    details = json.loads((tmp_path / "report.json").read_text())
    assert details["no_yerb_conflicts"] == 1
    assert [url.rsplit("/", 1)[-1] for url in details["examples"]["rows_without_image"]] == ["not-scraped.jpg"]
    assert details["examples"]["images_without_labels"] == [
        "2016-04-05_12-00-00_UTC.jpg",
        "2017-01-01_00-00-00_UTC.jpg",
    ]
    assert "Cans/lemon" in details["normalised_labels"].values()


def test_the_table_and_classes_json_are_byte_identical_across_forms(tmp_path):
    manifest = pd.DataFrame(
        {"file": SCRAPED, "shortcode": [f"p{i}" for i in range(6)], "sha256": [f"h{i}" for i in range(6)]}
    )
    outputs = {}
    for form, name in FORMS.items():
        import_labels(FIXTURES / name, SCRAPED, tmp_path / form / "labels")
        encoded, report = encode(
            read_labels_table(tmp_path / form / "labels" / "labels.csv"),
            manifest,
            EncodeParams(val_fraction=0.25, test_fraction=0.25),
            seed=0,
        )
        write_encoded(encoded, report, tmp_path / form / "encoded")
        outputs[form] = [
            (tmp_path / form / path).read_bytes()
            for path in ("labels/labels.csv", "encoded/classes.json", "encoded/dataset.csv")
        ]
    assert outputs["coco"] == outputs["jsonl"] == outputs["csv"]


def _write(tmp_path: Path, content: str | bytes, name: str = "export") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def _coco(images: list[dict], annotations: list[dict], categories: list[dict]) -> str:
    return json.dumps({"images": images, "annotations": annotations, "categories": categories})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file; accepted forms: COCO JSON"),
        (" \n\n", "empty file"),
        ("Url,Label\n", "no data rows"),
        ("Caf\xe9,Label\n".encode("latin-1"), r"not UTF-8 text \(byte 0xe9 at offset 3\); save the export as UTF-8"),
        ('{"info": {}, "licenses": []}', "not an export form I know \\(found: info, licenses\\); accepted forms"),
        ("[1, 2]", "found: a JSON list"),
        ('{"images": [', "line 1 column 13: not valid JSON"),
        (
            '{"image_url": "a.jpg", "label": "Cans"}\n{"image_url": "b.jpg", "label": 3}\n',
            r"line 2: 'label' = 3; allowed: a string or a list of strings",
        ),
        (
            '{"image_url": "a.jpg", "label": "Cans"}\n{"url": "b.jpg"}\n',
            "line 2: needs a string 'image_url'; found: url",
        ),
        ('{"image_url": "a.jpg", "label": "Cans"}\nnot json\n', "line 2: not a JSON object"),
        (
            _coco([{"id": 1, "file_name": "a.jpg"}], [{"image_id": 7, "category_id": 1}], [{"id": 1, "name": "Cans"}]),
            r"annotations\[0\] names image_id 7, which no entry of 'images' has",
        ),
        (
            _coco([{"id": 1, "file_name": "a.jpg"}], [{"image_id": 1, "category_id": 9}], [{"id": 1, "name": "Cans"}]),
            r"annotations\[0\] names category_id 9; categories have ids 1",
        ),
        (
            _coco([{"id": 1, "width": 0.0}], [], []),
            r"images\[0\] \(id 1\) has none of file_name, coco_url, absolute_url",
        ),
        ("Image,Tag\na.jpg,Cans\n", "found: Image, Tag. Accepted forms: COCO JSON"),
        (_coco([{"id": [1], "file_name": "a.jpg"}], [], []), r"images\[0\] 'id' = \[1\]; allowed: an integer id"),
        (
            _coco(
                [{"id": 1, "file_name": "a.jpg"}],
                [{"image_id": 1, "category_id": {"id": 1}}],
                [{"id": 1, "name": "Cans"}],
            ),
            r"annotations\[0\] 'category_id' = \{'id': 1\}; allowed: an integer id",
        ),
        (
            _coco([{"id": 1, "file_name": "a.jpg"}], [], [{"id": None, "name": "Cans"}]),
            r"categories\[0\] 'id' = None; allowed: an integer id",
        ),
        (
            'Url,Label\na.jpg,"[null, 3]"\n',
            r"line 2: label list '\[null, 3\]' holds None; allowed: a list of label strings",
        ),
        ("Url,Label\na.jpg,\"['Cans', 3]\"\n", r"label list .* holds 3; allowed"),
        ('Url,Label\na.jpg,"[{""name"": ""Cans""}]"\n', r"holds \{'name': 'Cans'\}; allowed"),
        (
            '{"image_url": "a.jpg", "label": [null]}\n',
            r"line 1: 'label' = \[None\]; allowed: a string or a list of strings",
        ),
        ("Url,Label\na.jpg,split\n", r"the label 'split' is also a column of encode's dataset table"),
        (
            "Url,Label\na.jpg,\"['Cans/Lemon', 'Cans.Lemon']\"\n",
            r"classes 'Cans.Lemon' and 'Cans/Lemon' share the metric key 'Cans.Lemon'",
        ),
        ("<?xml version='1.0'?>\n<labels/>\n", "found: <\\?xml version='1.0'\\?>"),
    ],
)
def test_bad_exports_stop_with_one_line_that_says_what_is_wrong(tmp_path, content, message):
    with pytest.raises(UserError, match=message) as caught:
        import_labels(_write(tmp_path, content), ["a.jpg"], tmp_path / "out")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "url",
    [
        "../../etc/passwd",
        "AmlDatastore://ds/yerbnet/../../../etc/passwd",
        "..\\..\\a.jpg",
        "https://x.blob.core.windows.net/c/images/%2e%2e/%2e%2e/a.jpg",
    ],
)
def test_a_path_that_climbs_out_of_its_folder_is_refused(tmp_path, url):
    export = _write(tmp_path, f"Url,Label\nAmlDatastore://ds/images/a.jpg,Cans\n{url},Cans\n")
    with pytest.raises(UserError, match="climbs out of its folder"):
        import_labels(export, ["a.jpg", "passwd"], tmp_path / "out")


def test_a_coco_file_name_that_climbs_out_is_refused_too(tmp_path):
    export = _write(tmp_path, _coco([{"id": 1, "file_name": "../../a.jpg"}], [], []))
    with pytest.raises(UserError, match=r"'\.\./\.\./a\.jpg' climbs out"):
        import_labels(export, ["a.jpg"], tmp_path / "out")

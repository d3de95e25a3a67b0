import json

import pytest

from yerbnet.classtree.taxonomy import LEAVES
from yerbnet.errors import UserError
from yerbnet.labels import azure
from yerbnet.labels.forms import read_export
from yerbnet.labels.import_labels import import_labels
from yerbnet.labels.table import read_labels_table
from yerbnet.params import LabelsParams, parse_params


@pytest.mark.parametrize(
    ("cell", "labels"),
    [
        ("['Cans/Slim/Cranpom', 'Bottles/Mint']", ["Cans/Slim/Cranpom", "Bottles/Mint"]),
        ('["Cans/Slim/Grapefruit Ginger"]', ["Cans/Slim/Grapefruit Ginger"]),
        ("Cans/Lemon; Bottles/Passion", ["Cans/Lemon", "Bottles/Passion"]),
        ("Cans/Lemon,Bottles", ["Cans/Lemon", "Bottles"]),
        ("No Yerb", ["No Yerb"]),
        ("", []),
    ],
)
def test_label_cells_in_every_list_notation(cell, labels):
    assert azure.parse_label_cell(cell) == labels


def test_a_written_export_reads_back(tmp_path):
    rows = [
        (azure.datastore_url("a.jpg"), ["Cans/Slim/Gold", "Bottles/Mint"]),
        (azure.datastore_url("b.jpg"), ["No Yerb"]),
    ]
    azure.write_csv_export(tmp_path / "labels.csv", rows)
    assert read_export(tmp_path / "labels.csv").rows == rows


def test_columns_are_found_in_any_case_and_a_bom_is_fine(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("\ufeffIMAGE_URL,label\nAmlDatastore://ds/x/a.jpg,Cans/Lemon\n", encoding="utf-8")
    assert read_export(path).rows == [("AmlDatastore://ds/x/a.jpg", ["Cans/Lemon"])]


def test_a_csv_without_the_needed_columns_names_what_it_found(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("Image,Tag\na.jpg,Cans\n")
    with pytest.raises(UserError, match="found: Image, Tag"):
        read_export(path)


def test_import_counts_what_matched_and_merges_duplicate_rows(tmp_path):
    export = tmp_path / "export.csv"
    azure.write_csv_export(
        export,
        [
            (azure.datastore_url("a.jpg"), ["Cans/Lemon"]),
            (azure.datastore_url("a.jpg"), ["Bottles/Mint"]),
            (azure.datastore_url("gone.jpg"), ["Cans"]),
        ],
    )
    report = import_labels(export, ["a.jpg", "b.jpg"], tmp_path / "out")
    assert report == {
        "rows_read": 3,
        "matched_images": 1,
        "rows_without_image": 1,
        "duplicate_rows_merged": 1,
        "images_without_labels": 1,
    }
    assert read_labels_table(tmp_path / "out" / "labels.csv") == {"a.jpg": ["Bottles/Mint", "Cans/Lemon"]}


def test_an_export_for_another_image_set_stops_the_stage(tmp_path):
    export = tmp_path / "export.csv"
    azure.write_csv_export(export, [(azure.datastore_url("other.jpg"), ["Cans"])])
    with pytest.raises(UserError, match=r"only 0 of its 1 rows .* unmatched, e.g. .*other.jpg"):
        import_labels(export, ["a.jpg"], tmp_path / "out")


def _import(tmp_path, rows, images, **params):
    export = tmp_path / "export.csv"
    azure.write_csv_export(export, [(azure.datastore_url(name), labels) for name, labels in rows])
    import_labels(export, images, tmp_path / "out", LabelsParams(**params))
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    return read_labels_table(tmp_path / "out" / "labels.csv"), report


def test_stray_spaces_and_case_become_one_class_and_the_report_says_so(tmp_path):
    table, report = _import(
        tmp_path,
        [
            ("a.jpg", ["Cans/Slim/Gold"]),
            ("b.jpg", ["cans / slim/ gold"]),
            ("c.jpg", ["Cans/Slim/Gold", "  No   Yerb "]),
        ],
        ["a.jpg", "b.jpg", "c.jpg"],
    )
    assert table == {"a.jpg": ["Cans/Slim/Gold"], "b.jpg": ["Cans/Slim/Gold"], "c.jpg": ["Cans/Slim/Gold", "No Yerb"]}
    assert report["normalised_labels"] == {"No   Yerb": "No Yerb", "cans / slim/ gold": "Cans/Slim/Gold"}
    assert report["no_yerb_conflicts"] == 1


def test_the_taxonomy_spelling_wins_and_an_unknown_label_names_rows_and_the_closest_valid_name(tmp_path):
    table, _ = _import(tmp_path, [("a.jpg", ["cans/lemon"])], ["a.jpg"], taxonomy=list(LEAVES))
    assert table == {"a.jpg": ["Cans/Lemon"]}
    with pytest.raises(
        UserError,
        match=r"'Cans/Enlightenmnt' on 2 image\(s\) \(a.jpg, b.jpg\); "
        r"closest valid: 'Cans/Enlightenmint'",
    ):
        _import(
            tmp_path,
            [("a.jpg", ["Cans/Enlightenmnt"]), ("b.jpg", ["Cans/Enlightenmnt", "Cans"])],
            ["a.jpg", "b.jpg"],
            taxonomy=list(LEAVES),
        )


def test_inner_labels_of_the_taxonomy_are_allowed(tmp_path):
    table, _ = _import(tmp_path, [("a.jpg", ["Cans/Slim"])], ["a.jpg"], taxonomy=["Cans/Slim/Gold"])
    assert table == {"a.jpg": ["Cans/Slim"]}


def test_an_export_that_mostly_names_other_images_stops_the_stage(tmp_path):
    rows = [("a.jpg", ["Cans"])] + [(f"other{i}.jpg", ["Cans"]) for i in range(9)]
    with pytest.raises(
        UserError, match=r"only 1 of its 10 rows \(10%\) name a scraped image, below labels.min_matched"
    ):
        _import(tmp_path, rows, ["a.jpg"])
    table, _ = _import(tmp_path, rows, ["a.jpg"], min_matched=0.1)
    assert table == {"a.jpg": ["Cans"]}


def test_an_unlabelled_image_is_left_out_and_counted_not_read_as_no_yerb(tmp_path):
    table, report = _import(tmp_path, [("a.jpg", ["Cans"]), ("b.jpg", [])], ["a.jpg", "b.jpg", "c.jpg"])
    assert table == {"a.jpg": ["Cans"]}
    assert (report["images_without_labels"], report["rows_without_labels"]) == (2, 1)
    assert report["examples"]["images_without_labels"] == ["b.jpg", "c.jpg"]


def test_labels_params_take_a_taxonomy_list_and_refuse_anything_else():
    assert parse_params({"labels": {"taxonomy": ["Cans/Lemon", "No Yerb"]}}).labels.taxonomy == [
        "Cans/Lemon",
        "No Yerb",
    ]
    with pytest.raises(UserError, match="labels.taxonomy = 'Cans'"):
        parse_params({"labels": {"taxonomy": "Cans"}})
    with pytest.raises(UserError, match="labels.min_matched = 0; allowed: a number above 0, up to 1"):
        parse_params({"labels": {"min_matched": 0}})

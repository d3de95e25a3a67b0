import pytest

from yerbnet.errors import UserError
from yerbnet.labels import azure
from yerbnet.labels.importer import import_labels, read_labels_table


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


def test_the_file_name_is_what_matches_across_url_schemes():
    assert azure.file_name_of("AmlDatastore://workspaceblobstore/yerbnet/images/a_UTC_1.jpg") == "a_UTC_1.jpg"
    assert azure.file_name_of("https://x.blob.core.windows.net/c/images/a.jpg?sv=1") == "a.jpg"


def test_a_written_export_reads_back(tmp_path):
    rows = [(azure.datastore_url("a.jpg"), ["Cans/Slim/Gold", "Bottles/Mint"]), (azure.datastore_url("b.jpg"), ["No Yerb"])]
    azure.write_csv_export(tmp_path / "labels.csv", rows)
    assert azure.read_csv_export(tmp_path / "labels.csv") == rows


def test_columns_are_found_in_any_case_and_a_bom_is_fine(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("\ufeffIMAGE_URL,label\nAmlDatastore://ds/x/a.jpg,Cans/Lemon\n", encoding="utf-8")
    assert azure.read_csv_export(path) == [("AmlDatastore://ds/x/a.jpg", ["Cans/Lemon"])]


def test_a_csv_without_the_needed_columns_names_what_it_found(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("Image,Tag\na.jpg,Cans\n")
    with pytest.raises(UserError, match="found: Image, Tag"):
        azure.read_csv_export(path)


def test_import_counts_what_matched_and_merges_duplicate_rows(tmp_path):
    export = tmp_path / "export.csv"
    azure.write_csv_export(export, [
        (azure.datastore_url("a.jpg"), ["Cans/Lemon"]),
        (azure.datastore_url("a.jpg"), ["Bottles/Mint"]),
        (azure.datastore_url("gone.jpg"), ["Cans"]),
    ])
    report = import_labels(export, ["a.jpg", "b.jpg"], tmp_path / "out")
    assert report == {"rows_read": 3, "matched_images": 1, "rows_without_image": 1,
                      "duplicate_rows_merged": 1, "images_without_labels": 1}
    assert read_labels_table(tmp_path / "out" / "labels.csv") == {"a.jpg": ["Bottles/Mint", "Cans/Lemon"]}


def test_an_export_for_another_image_set_stops_the_stage(tmp_path):
    export = tmp_path / "export.csv"
    azure.write_csv_export(export, [(azure.datastore_url("other.jpg"), ["Cans"])])
    with pytest.raises(UserError, match="none of its 1 rows names a scraped image"):
        import_labels(export, ["a.jpg"], tmp_path / "out")

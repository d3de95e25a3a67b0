"""Labelling help: `predict --format azure-jsonl` round-trips through import_labels, `--sort uncertain`,
the `--html` contact sheet and `--new` (tiny untrained model, tiny photos)."""

import base64
import io
import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from yerbnet.classtree import taxonomy
from yerbnet.cli import main
from yerbnet.labels.import_labels import import_labels
from yerbnet.labels.table import read_labels_table
from yerbnet.predict import Prediction
from yerbnet.prelabels import margin, most_specific, most_uncertain_first
from yerbnet.sources.manifest import read_manifest, save_jpeg, write_manifest

CLASSES = ["Bottles", "Bottles/Mint", "Cans", "Cans/Lemon", "Cans/Slim", "Cans/Slim/Gold", "No Yerb"]


@pytest.fixture(scope="module")
def model_dir(untrained_model_dir) -> Path:
    return untrained_model_dir(CLASSES)


@pytest.fixture
def photos(tmp_path) -> Path:
    """Six noisy photos of different sizes, two in a subfolder (their upload path has a folder)."""
    folder = tmp_path / "photos"
    (folder / "trip").mkdir(parents=True)
    rng = np.random.default_rng(3)
    for i, name in enumerate(["a.jpg", "b.png", "c.jpg", "d.jpg", "trip/e.jpg", "trip/IMG 1.jpg"]):
        size = (40 + 30 * i, 60 + 10 * i)
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(folder / name)
    return folder


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["predict", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_most_specific_keeps_what_a_labeller_would_pick():
    assert most_specific(["Cans", "Cans/Slim", "Cans/Slim/Gold", "Bottles"]) == ["Cans/Slim/Gold", "Bottles"]
    assert most_specific(["Cans"]) == ["Cans"]  # a parent predicted without any flavour stays
    assert most_specific(["No Yerb"]) == ["No Yerb"]
    assert most_specific([]) == []


@pytest.mark.parametrize("threshold", ["0.01", "0.5"])
def test_azure_jsonl_round_trips_through_import_labels(model_dir, photos, tmp_path, capsys, threshold):
    code, expected, _ = _run(
        capsys, str(photos), "--model-dir", str(model_dir), "--format", "json", "--threshold", threshold
    )
    code, out, _ = _run(
        capsys, str(photos), "--model-dir", str(model_dir), "--format", "azure-jsonl", "--threshold", threshold
    )
    assert code == 0
    export = tmp_path / "prelabels.jsonl"
    export.write_text(out)
    lines = [json.loads(line) for line in out.splitlines()]
    assert "AmlDatastore://workspaceblobstore/trip/IMG 1.jpg" in [line["image_url"] for line in lines]
    assert all(len(line["label"]) == len(line["label_confidence"]) for line in lines)

    # Scrape stores photos under tidied names and keeps the upload path in posts.csv's `original`.
    originals = {
        path.relative_to(photos).as_posix().replace("/", "__").replace(" ", "_"): path.relative_to(photos).as_posix()
        for path in photos.rglob("*.*")
    }
    report = import_labels(export, originals, tmp_path / "labels")
    assert report["rows_read"] == 6 and report["rows_without_image"] == 0
    imported = read_labels_table(tmp_path / "labels" / "labels.csv")
    predicted = {Path(row["path"]).relative_to(photos).as_posix(): row["labels"] for row in json.loads(expected)}
    assert {originals[name]: labels for name, labels in imported.items()} == {
        original: sorted(most_specific(labels)) for original, labels in predicted.items() if labels
    }
    for name, labels in imported.items():  # the importer's ancestors give back every predicted label
        assert taxonomy.expand(labels) == set(predicted[originals[name]])


def _prediction(name: str, scores: dict[str, float]) -> Prediction:
    return Prediction(Path(name), [c for c, s in scores.items() if s >= 0.5], scores)


def test_uncertain_first_means_closest_to_any_threshold():
    thresholds = {"Cans": 0.5, "No Yerb": 0.7}
    sure = _prediction("sure.jpg", {"Cans": 0.99, "No Yerb": 0.01})
    close_no_yerb = _prediction("close.jpg", {"Cans": 0.9, "No Yerb": 0.68})
    close_cans = _prediction("cans.jpg", {"Cans": 0.45, "No Yerb": 0.1})
    assert margin(close_no_yerb, thresholds) == pytest.approx(0.02)
    ordered = most_uncertain_first([sure, close_no_yerb, close_cans], thresholds)
    assert [p.path.name for p in ordered] == ["close.jpg", "cans.jpg", "sure.jpg"]


def test_sort_uncertain_orders_the_output_by_margin(model_dir, photos, capsys):
    args = [str(photos), "--model-dir", str(model_dir), "--format", "json", "--top-k", "99", "--threshold", "0.5"]
    _, plain, _ = _run(capsys, *args)
    code, out, _ = _run(capsys, *args, "--sort", "uncertain")
    rows = json.loads(out)
    margins = [min(abs(s - 0.5) for s in row["scores"].values()) for row in rows]
    assert code == 0 and margins == sorted(margins)
    assert sorted(row["path"] for row in rows) == sorted(row["path"] for row in json.loads(plain))


class _Sheet(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.names: list[str] = []
        self.links: list[str] = []
        self._in_name = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        self.links += [attrs[key] for key in ("href", "src") if key in attrs and tag != "img"]
        self._in_name = tag == "p" and attrs.get("class") == "name"

    def handle_data(self, data):
        if self._in_name:
            self.names.append(data)
            self._in_name = False


def test_the_contact_sheet_is_one_file_with_inline_thumbnails_least_sure_first(model_dir, photos, tmp_path, capsys):
    sheet = tmp_path / "out" / "sheet.html"
    code, out, _ = _run(
        capsys,
        str(photos),
        "--model-dir",
        str(model_dir),
        "--format",
        "json",
        "--sort",
        "uncertain",
        "--html",
        str(sheet),
    )
    assert code == 0
    parser = _Sheet()
    parser.feed(sheet.read_text(encoding="utf-8"))
    # The same order as --sort uncertain; each photo named by its path in the folder given.
    assert parser.names == [Path(row["path"]).relative_to(photos).as_posix() for row in json.loads(out)]
    assert len(parser.images) == 6 and parser.links == []  # nothing outside the file
    for src in parser.images:
        prefix, data = src.split(",", 1)
        assert prefix == "data:image/jpeg;base64"
        assert max(Image.open(io.BytesIO(base64.b64decode(data))).size) <= 160


@pytest.fixture
def scraped(tmp_path) -> Path:
    """data/raw as scrape leaves it: three photos stored under tidied names, their upload paths in posts.csv."""
    raw = tmp_path / "raw"
    rng = np.random.default_rng(5)
    records = []
    for stored, original in [
        ("trip__IMG_1.jpg", "trip/IMG 1.jpg"),
        ("trip__IMG_2.jpg", "trip/IMG 2.jpg"),
        ("home__IMG_1.jpg", "home/IMG 1.jpg"),
    ]:
        image = Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8))
        records.append(save_jpeg(image, raw / "images" / stored, original, "directory", stored[:-4], None, 0))
    write_manifest(raw / "posts.csv", records)
    return raw


def _export(path: Path, urls: list[str]) -> Path:
    path.write_text("".join(json.dumps({"image_url": url, "label": ["Cans"]}) + "\n" for url in urls))
    return path


def test_new_predicts_only_the_photos_the_last_export_does_not_name(model_dir, scraped, tmp_path, capsys):
    export = _export(
        tmp_path / "export.jsonl",
        [
            "AmlDatastore://workspaceblobstore/UI/0501/trip/IMG 1.jpg",
            "AmlDatastore://workspaceblobstore/UI/0501/home/IMG 1.jpg",
        ],
    )
    code, out, err = _run(
        capsys,
        "--new",
        "--raw",
        str(scraped),
        "--export",
        str(export),
        "--model-dir",
        str(model_dir),
        "--format",
        "azure-jsonl",
    )
    assert code == 0
    # Named as the user uploaded it (posts.csv's original), not as scrape stored it.
    assert [json.loads(line)["image_url"] for line in out.splitlines()] == [
        "AmlDatastore://workspaceblobstore/trip/IMG 2.jpg"
    ]
    assert f"1 photo(s) in {scraped} not named by {export}" in err
    (tmp_path / "prelabels.jsonl").write_text(out)
    manifest = read_manifest(scraped)
    import_labels(tmp_path / "prelabels.jsonl", dict(zip(manifest["file"], manifest["original"])), tmp_path / "labels")
    assert json.loads((tmp_path / "labels" / "report.json").read_text())["matched_images"] == 1


def test_new_reads_the_export_that_params_name(model_dir, scraped, tmp_path, capsys, monkeypatch):
    _export(tmp_path / "mine.jsonl", ["trip/IMG 1.jpg", "trip/IMG 2.jpg", "home/IMG 1.jpg"])
    (tmp_path / "params.yaml").write_text("labels:\n  export: mine.jsonl\n")
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, "--new", "--raw", "raw", "--model-dir", str(model_dir), "--format", "json")
    assert (code, out) == (0, "[]\n")  # every photo is labelled: nothing to do, no error
    assert "0 photo(s) in raw not named by mine.jsonl" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--new", "photos"],
            "--new predicts the scraped photos that the labels export does not name; give no paths with it",
        ),
        ([], "predict: give image files or folders, or --new for the photos not labelled yet"),
    ],
)
def test_paths_or_new_is_one_line_and_exit_2(model_dir, capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        main(["predict", *args, "--model-dir", str(model_dir)])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == f"error: {message}"

"""import_labels: the Azure ML Data Labeling export -> data/labels/labels.csv and report.json."""

from pathlib import Path

from yerbnet.errors import reported_as_exit
from yerbnet.labels.import_labels import import_labels
from yerbnet.params import load_params
from yerbnet.sources.manifest import SYNTHETIC_EXPORT, read_manifest

RAW = Path("data/raw")
OUT = Path("data/labels")

if __name__ == "__main__":
    with reported_as_exit():
        params = load_params()
        export = Path(params.labels.export) if params.labels.export else RAW / SYNTHETIC_EXPORT
        manifest = read_manifest(RAW, columns=["file", "original"])
        report = import_labels(export, dict(zip(manifest["file"], manifest["original"])), OUT, params.labels)
        print("import_labels: " + ", ".join(f"{k} {v}" for k, v in report.items()))

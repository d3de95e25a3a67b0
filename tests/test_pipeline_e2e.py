"""One real `dvc repro` of all six stages in a temporary clone, on a tiny param set."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA_STAGES = ("scrape", "import_labels", "encode", "augment")
TINY = {
    "scrape": {"synthetic": {"images": 60}},
    "image_size": 32,
    "augment": {"shard_size": 32},
    "train": {"architecture": "simple_cnn", "cnn_blocks": 2, "cnn_filters": 8, "epochs": 1, "batch_size": 16},
}


def _run(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "TF_CPP_MIN_LOG_LEVEL": "2", "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.com",
           "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.com"}
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _merge(base: dict, extra: dict) -> dict:
    return {k: _merge(base[k], v) if isinstance(v, dict) and v else v for k, v in extra.items()} | \
        {k: v for k, v in base.items() if k not in extra}


def _data_hashes(repo: Path) -> dict:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    return {stage: [out["md5"] for out in lock[stage]["outs"]] for stage in DATA_STAGES}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A fresh git + DVC project holding this checkout's files, with tiny params, after `dvc repro`."""
    repo = tmp_path_factory.mktemp("yerbnet")
    tracked = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        if (ROOT / name).is_file() and not name.startswith(("data/", "models/", "dvclive/")):
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    (repo / "params.yaml").write_text(yaml.safe_dump(_merge(params, TINY), sort_keys=False))
    _run(["git", "init", "-q"], repo)
    _run(["git", "add", "-A"], repo)
    _run(["git", "commit", "-qm", "tiny"], repo)
    _run(["dvc", "repro"], repo)
    return repo


@pytest.mark.slow
def test_repro_trains_a_model_and_writes_per_class_metrics(repo):
    assert (repo / "models" / "model.keras").stat().st_size > 0
    metrics = json.loads((repo / "dvclive" / "evaluate" / "metrics.json").read_text())
    assert 0 <= metrics["macro_f1"] <= 1
    assert {"precision", "recall", "f1", "support"} <= set(metrics["per_class"]["Cans.Slim"])
    assert "Cans" in metrics["per_class"] and "No Yerb" in metrics["per_class"]
    shown = _run(["dvc", "metrics", "show", "--json"], repo)
    assert "per_class" in shown
    assert list((repo / "dvclive" / "evaluate" / "plots" / "sklearn" / "confusion").glob("*.json"))


@pytest.mark.slow
def test_a_second_repro_does_nothing(repo):
    out = _run(["dvc", "repro"], repo)
    assert "Running stage" not in out


@pytest.mark.slow
def test_small_learning_rates_set_by_dvc_rerun_only_train_and_evaluate(repo):
    """DVC writes ``5e-05`` (YAML 1.2): the stages must read it as the number it is."""
    _run(["git", "add", "-A"], repo)
    _run(["git", "commit", "-qm", "after repro"], repo)
    out = _run(["dvc", "exp", "run", "-S", "train.learning_rate=0.00005", "-S", "train.fine_tune_learning_rate=0.000001"],
               repo)
    assert "5e-05" in (repo / "params.yaml").read_text()
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert ran == {"train", "evaluate"}
    assert "train.learning_rate" in _run(["dvc", "exp", "show", "--csv"], repo)


@pytest.mark.slow
def test_data_stages_are_byte_identical_when_rerun(repo):
    before = _data_hashes(repo)
    _run(["dvc", "repro", "--force", "augment"], repo)
    assert _data_hashes(repo) == before


@pytest.mark.slow
def test_a_params_typo_stops_in_one_line_that_says_how_to_restore_the_removed_outputs(repo):
    params = (repo / "params.yaml").read_text()
    (repo / "params.yaml").write_text(params.replace("  epochs:", "  epoch:", 1))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["dvc", "repro"], cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "error: params.yaml: unknown key 'train.epoch' (did you mean 'train.epochs'?)" in done.stderr
    assert "`dvc checkout train` restores them" in done.stderr
    assert not (repo / "models" / "model.keras").exists()  # DVC removed it before the stage ran
    (repo / "params.yaml").write_text(params)
    _run(["dvc", "checkout", "train"], repo)
    assert (repo / "models" / "model.keras").exists()
    assert "Running stage" not in _run(["dvc", "repro"], repo)

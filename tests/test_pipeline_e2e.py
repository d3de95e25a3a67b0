"""One real `dvc repro` of all six stages in a temporary clone, on a tiny param set."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

DATA_STAGES = ("scrape", "import_labels", "encode", "augment")


def _data_hashes(repo: Path) -> dict:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    return {stage: [out["md5"] for out in lock[stage]["outs"]] for stage in DATA_STAGES}


@pytest.fixture(scope="module")
def repo(trained_copy) -> Path:
    """The session's tiny trained project (conftest's ``trained_repo``), copied: these tests change it."""
    return trained_copy()


@pytest.mark.slow
def test_repro_trains_a_model_and_writes_per_class_metrics(repo, run_ok):
    assert (repo / "models" / "model.keras").stat().st_size > 0
    metrics = json.loads((repo / "dvclive" / "evaluate" / "metrics.json").read_text())
    assert 0 <= metrics["macro_f1"] <= 1 and "Cans.Slim" in metrics["per_class_f1"]
    details = json.loads((repo / "reports" / "evaluation.json").read_text())
    assert {"precision", "recall", "f1", "support", "val_support"} <= set(details["per_class"]["Cans.Slim"])
    shown = json.loads(run_ok(["dvc", "metrics", "show", "--json"], repo))
    (declared,) = [rev["data"] for rev in shown.values()]
    assert list(declared) == ["dvclive/evaluate/metrics.json"]  # the training curves are plots, not metrics
    assert run_ok(["yerbnet", "report"], repo).startswith("- experiment: workspace")


@pytest.mark.slow
def test_a_second_repro_does_nothing(repo, run_ok):
    out = run_ok(["dvc", "repro"], repo)
    assert "Running stage" not in out


@pytest.mark.slow
def test_small_learning_rates_set_by_dvc_rerun_only_train_and_evaluate(repo, run_ok):
    """DVC writes ``5e-05`` (YAML 1.2): the stages must read it as the number it is."""
    run_ok(["git", "add", "-A"], repo)
    run_ok(["git", "commit", "-qm", "after repro"], repo)
    out = run_ok(
        ["dvc", "exp", "run", "-S", "train.learning_rate=0.00005", "-S", "train.fine_tune_learning_rate=0.000001"], repo
    )
    assert "5e-05" in (repo / "params.yaml").read_text()
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert ran == {"train", "evaluate"}
    assert "train.learning_rate" in run_ok(["dvc", "exp", "show", "--csv"], repo)


@pytest.mark.slow
def test_the_experiment_table_and_the_metrics_diff_fit_a_screen(repo, run_ok):
    """After two experiments: the whole changed table, the `make exps` one and `dvc metrics diff` stay narrow."""
    run_ok(["dvc", "exp", "run", "-S", "evaluate.threshold=0.5"], repo)
    changed = run_ok(["dvc", "exp", "show", "--only-changed", "--csv"], repo).splitlines()[0].split(",")
    assert len(changed) <= 40, changed
    short = run_ok(["make", "-s", "exps", "ARGS=--csv"], repo).splitlines()[0].split(",")
    assert short[:4] == ["Experiment", "rev", "typ", "macro_f1"] and len(short) <= 15, short
    diff = run_ok(["dvc", "metrics", "diff", "--all", "--md"], repo).splitlines()
    assert len(diff) - 2 <= 30 and "| macro_f1 " in diff[2], diff


@pytest.mark.slow
def test_data_stages_are_byte_identical_when_rerun(repo, run_ok):
    before = _data_hashes(repo)
    run_ok(["dvc", "repro", "--force", "augment"], repo)
    assert _data_hashes(repo) == before


@pytest.mark.slow
def test_a_params_typo_stops_in_one_line_that_says_how_to_restore_the_removed_outputs(repo, run_ok):
    params = (repo / "params.yaml").read_text()
    (repo / "params.yaml").write_text(params.replace("  epochs:", "  epoch:", 1))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["dvc", "repro"], cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "error: params.yaml: unknown key 'train.epoch' (did you mean 'train.epochs'?)" in done.stderr
    assert "`dvc checkout train` restores them" in done.stderr
    assert not (repo / "models" / "model.keras").exists()  # DVC removed it before the stage ran
    (repo / "params.yaml").write_text(params)
    run_ok(["dvc", "checkout", "train"], repo)
    assert (repo / "models" / "model.keras").exists()
    assert "Running stage" not in run_ok(["dvc", "repro"], repo)

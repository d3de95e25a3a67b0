"""What a user sees when a stage cannot go on: one line, exit status 2, nothing half-written."""

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from yerbnet.errors import UserError, full_disk_file, reported_as_exit

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
    )


def test_a_user_error_is_one_line_and_exit_status_2(capsys):
    with pytest.raises(SystemExit) as exit_, reported_as_exit():
        raise UserError("params.yaml: seed = -1; allowed: an integer from 0 to 4294967295")
    assert exit_.value.code == 2
    assert capsys.readouterr().err == "error: params.yaml: seed = -1; allowed: an integer from 0 to 4294967295\n"


def test_under_dvc_repro_the_line_says_how_to_get_the_removed_outputs_back(capsys, monkeypatch):
    monkeypatch.setenv("DVC_STAGE", "train")
    with pytest.raises(SystemExit), reported_as_exit():
        raise UserError("params.yaml: unknown key 'train.learning_rat'")
    assert capsys.readouterr().err.rstrip().endswith("`dvc checkout train` restores them)")


def test_full_disk_errors_are_recognised_from_python_h5py_and_tensorflow():
    assert (
        full_disk_file(OSError(errno.ENOSPC, "No space left on device", "data/raw/images/a.jpg"))
        == "data/raw/images/a.jpg"
    )
    h5py_style = OSError(
        errno.ENOSPC,
        "Can't synchronously write data (file write failed: filename = "
        "'models/.backup/x/epoch-1.weights.h5', errno = 28)",
    )
    assert full_disk_file(h5py_style) == "models/.backup/x/epoch-1.weights.h5"
    assert (
        full_disk_file(RuntimeError("data/augmented/.train.tmp.tfrecord; No space left on device"))
        == "data/augmented/.train.tmp.tfrecord"
    )
    assert full_disk_file(OSError(errno.EACCES, "Permission denied")) is None


def test_a_full_disk_is_one_line_and_exit_status_2_without_a_traceback():
    done = _python(
        "import errno\nfrom yerbnet.errors import reported_as_exit\nwith reported_as_exit():\n"
        "    raise OSError(errno.ENOSPC, 'No space left on device', 'data/raw/images/a.jpg')"
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: no space left on the device writing data/raw/images/a.jpg; free some space (df -h) and rerun "
        "(outputs are written to a temporary file and renamed, so no half-written file was kept)"
    ]


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB file system (tmpfs), where this machine lets the tests mount one."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if (
        shutil.which("mount") is None
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_scrape_onto_a_full_disk_stops_in_one_line_and_leaves_no_partial_file(tiny_disk, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(ROOT / "stages", project / "stages")
    (project / "params.yaml").write_text("scrape:\n  synthetic:\n    images: 200\n")
    (project / "data").symlink_to(tiny_disk)
    done = subprocess.run([sys.executable, "stages/scrape.py"], cwd=project, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].startswith("error: no space left on the device writing ")
    assert "Traceback" not in done.stderr
    assert not [p for p in tiny_disk.rglob("*") if ".tmp." in p.name]


def test_train_checks_the_free_space_before_the_first_epoch(tiny_disk, tiny_shards, tmp_path):
    from yerbnet.params import TrainParams
    from yerbnet.sources.images import PhotoLimits
    from yerbnet.train import train

    with pytest.raises(UserError, match=r"MiB free on its device, training this model needs about \d+ MiB"):
        train(
            TrainParams(architecture="simple_cnn", cnn_blocks=1, cnn_filters=4, epochs=1),
            tiny_shards,
            tiny_disk / "model.keras",
            tmp_path / "live",
            tiny_disk / ".backup",
            seed=0,
            limits=PhotoLimits(max_pixels=10_000_000, max_side=None),
        )
    assert not (tiny_disk / "model.keras").exists()

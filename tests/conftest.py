"""Shared fixtures: a tiny encoded data set and its shards, and a tiny trained scratch project, made by the test run."""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image, ImageDraw

from yerbnet.augment import augment_dataset
from yerbnet.encode import Encoded
from yerbnet.params import AugmentParams

ROOT = Path(__file__).resolve().parents[1]
TINY_CLASSES = ["Cans", "Cans/Lemon", "No Yerb"]
TINY_PARAMS = {
    "scrape": {"synthetic": {"images": 60}},
    "image_size": 32,
    "augment": {"shard_size": 32},
    "train": {"architecture": "simple_cnn", "cnn_blocks": 2, "cnn_filters": 8, "epochs": 1, "batch_size": 16},
}


def _photo(lemon: bool, i: int) -> Image.Image:
    """A grey scene, with a yellow 'can' somewhere when ``lemon``."""
    image = Image.new("RGB", (40, 40), (90 + i % 5 * 10, 90, 90))
    if lemon:
        x = 4 + (i * 7) % 24
        ImageDraw.Draw(image).rectangle((x, 8, x + 10, 32), fill=(240, 210, 30))
    return image


@pytest.fixture
def tiny_shards(tmp_path: Path) -> Path:
    """Shards of 24 train, 8 val and 8 test images at 32 px, half of them showing a lemon can."""
    images = tmp_path / "images"
    images.mkdir()
    rows = []
    for i, split in enumerate(["train"] * 24 + ["val"] * 8 + ["test"] * 8):
        lemon = i % 2 == 1
        _photo(lemon, i).save(images / f"img{i:02d}.jpg")
        rows.append(
            {
                "image": f"img{i:02d}.jpg",
                "shortcode": f"p{i}",
                "split": split,
                "labels": "[]",
                "Cans": int(lemon),
                "Cans/Lemon": int(lemon),
                "No Yerb": int(not lemon),
            }
        )
    shards = tmp_path / "shards"
    augment_dataset(Encoded(pd.DataFrame(rows), TINY_CLASSES), images, shards, AugmentParams(copies=0), 32, seed=0)
    return shards


@pytest.fixture(scope="module")
def untrained_model_dir(tmp_path_factory):
    """A factory: a models/ folder as train leaves it, holding a tiny untrained 32 px model for ``classes``."""
    from yerbnet.models import build_model
    from yerbnet.params import TrainParams
    from yerbnet.saved_model import ModelInfo, write_info
    from yerbnet.sources.images import PhotoLimits

    def make(classes: list[str]) -> Path:
        root = tmp_path_factory.mktemp("models")
        build_model(TrainParams(architecture="simple_cnn", cnn_blocks=1, cnn_filters=4), 32, len(classes)).save(
            root / "model.keras"
        )
        write_info(root, ModelInfo(classes, "pad", PhotoLimits(max_pixels=10_000_000, max_side=1440)))
        return root

    return make


def _run_ok(args: list[str], cwd: Path) -> str:
    """Runs a command as a user of the project would (.venv first on PATH) and returns its stdout."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="session")
def run_ok() -> Callable[[list[str], Path], str]:
    """Runs a command in a scratch project; a failure fails the test with the command's output."""
    return _run_ok


def _merge(base: dict, extra: dict) -> dict:
    return {k: _merge(base[k], v) if isinstance(v, dict) and v else v for k, v in extra.items()} | {
        k: v for k, v in base.items() if k not in extra
    }


@pytest.fixture(scope="session")
def trained_repo(tmp_path_factory) -> Path:
    """A fresh git + DVC project holding this checkout's files, with tiny params, after `dvc repro`.

    One repro (about a minute) for the whole session: tests change copies of it (``trained_copy``).
    Its code is committed, the repro's results (dvc.lock, outputs) are not.
    """
    repo = tmp_path_factory.mktemp("yerbnet")
    tracked = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    for name in tracked:
        if (ROOT / name).is_file() and not name.startswith(("data/", "models/", "dvclive/")):
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    (repo / "params.yaml").write_text(yaml.safe_dump(_merge(params, TINY_PARAMS), sort_keys=False))
    _run_ok(["git", "init", "-q"], repo)
    _run_ok(["git", "add", "-A"], repo)
    _run_ok(["git", "commit", "-qm", "tiny"], repo)
    _run_ok(["dvc", "repro"], repo)
    return repo


@pytest.fixture(scope="session")
def trained_copy(trained_repo, tmp_path_factory) -> Callable[[], Path]:
    """A factory: a new copy of ``trained_repo`` (git history, DVC cache and outputs) that a test may change."""

    def make() -> Path:
        copy = tmp_path_factory.mktemp("trained") / "repo"
        shutil.copytree(trained_repo, copy, symlinks=True)
        return copy

    return make

"""Sharing results through a DVC remote: one clone pushes, a fresh clone pulls and has nothing to retrain.

Twice: with a local folder as the remote, and with Azure Blob Storage as emulated by Azurite (Microsoft's
emulator, installed by `make install` from package-lock.json) on the loopback address. These are the
commands docs/remote.md gives a team.
"""

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

ROOT = Path(__file__).resolve().parents[1]
AZURITE = ROOT / "node_modules" / ".bin" / "azurite-blob"
# Azurite's published development account: the same in every copy of the emulator, so not a secret. It still
# goes where a real key would (.dvc/config.local), which the Azurite test checks git never sees.
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
CONTAINER = "yerbnet"

RunOk = Callable[[list[str], Path], str]


def _push(origin: Path, url: str, run_ok: RunOk, credentials: dict[str, str]) -> None:
    """What the teammate who trained runs: add the remote (secrets --local), commit everything, push."""
    run_ok(["dvc", "remote", "add", "-d", "storage", url], origin)
    for key, value in credentials.items():
        run_ok(["dvc", "remote", "modify", "--local", "storage", key, value], origin)
    run_ok(["git", "add", "-A"], origin)
    run_ok(["git", "commit", "-qm", "trained, with the team's DVC remote"], origin)
    assert "pushed" in run_ok(["dvc", "push"], origin)


def _pull_into_fresh_clone(origin: Path, clone: Path, run_ok: RunOk, credentials: dict[str, str]) -> None:
    """What a teammate runs: clone, give DVC their own credentials (--local), pull; then nothing is stale."""
    run_ok(["git", "clone", "-q", str(origin), str(clone)], clone.parent)
    assert not (clone / "models" / "model.keras").exists()
    for key, value in credentials.items():
        run_ok(["dvc", "remote", "modify", "--local", "storage", key, value], clone)
    run_ok(["dvc", "pull"], clone)
    assert "Data and pipelines are up to date." in run_ok(["dvc", "status"], clone)
    assert "Running stage" not in run_ok(["dvc", "repro"], clone)
    photo = sorted((clone / "data" / "raw" / "images").iterdir())[0]
    predicted = run_ok(["yerbnet", "predict", "--format", "csv", str(photo.relative_to(clone))], clone)
    assert photo.name in predicted


@pytest.mark.slow
def test_a_local_folder_remote_gives_a_fresh_clone_the_trained_results(trained_copy, run_ok, tmp_path):
    origin = trained_copy()
    remote = tmp_path / "remote"
    _push(origin, str(remote), run_ok, {})
    assert any(path.is_file() for path in remote.rglob("*"))
    _pull_into_fresh_clone(origin, tmp_path / "clone", run_ok, {})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def azurite(tmp_path: Path) -> Iterator[str]:
    """Azurite's blob service on a free loopback port, storing under tmp_path; yields its connection string.

    Fails rather than skips in CI (CI=true): the round trip must run there. Elsewhere it skips only when
    Node.js is absent.
    """
    node = shutil.which("node")
    if node is None and os.environ.get("CI") != "true":
        pytest.skip("Node.js is not installed (Azurite runs on it); CI fails here instead")
    assert node is not None, "Node.js is not installed: Azurite, the Azure Storage emulator, needs it"
    assert AZURITE.exists(), f"{AZURITE} is missing: `make install` installs Azurite with npm ci"
    port = _free_port()
    server = subprocess.Popen(
        [
            node,
            str(AZURITE),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(tmp_path / "azurite"),
            "--silent",
            "--skipApiVersionCheck",
            "--disableTelemetry",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, f"Azurite exited:\n{server.stdout.read()}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "Azurite did not listen within 30 s"
                time.sleep(0.2)
        yield (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{port}/{ACCOUNT};"
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.mark.slow
def test_an_azure_blob_remote_gives_a_fresh_clone_the_trained_results_and_git_never_sees_the_key(
    trained_copy, run_ok, azurite, tmp_path
):
    # The container is made once per team, as with `az storage container create`: dvc push does not create it.
    BlobServiceClient.from_connection_string(azurite).create_container(CONTAINER)
    origin = trained_copy()
    credentials = {"connection_string": azurite}
    _push(origin, f"azure://{CONTAINER}/dvcstore", run_ok, credentials)

    assert ACCOUNT_KEY in (origin / ".dvc" / "config.local").read_text()
    committed = run_ok(["git", "show", "HEAD"], origin)  # after `git add -A`
    assert "azure://yerbnet/dvcstore" in committed and ACCOUNT_KEY not in committed
    assert ".dvc/config.local" not in run_ok(["git", "ls-files", ".dvc"], origin)

    container = BlobServiceClient.from_connection_string(azurite).get_container_client(CONTAINER)
    assert any(blob.name.startswith("dvcstore/") for blob in container.list_blobs())
    _pull_into_fresh_clone(origin, tmp_path / "clone", run_ok, credentials)

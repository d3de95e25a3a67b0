"""Wall time and peak memory of each pipeline stage on the current params.

Runs every stage's `cmd` from dvc.yaml, in order, in a scratch copy of the project
(so the workspace and dvc.lock are untouched), and prints a Markdown table.

    python benchmarks/stage_costs.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def copy_project(dest: Path) -> None:
    """Copy the project's files (not its data) into ``dest`` as a one-commit git repo (dvclive needs a commit)."""
    names = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    for name in names:
        if (ROOT / name).is_file() and not name.startswith(("data/", "models/", "dvclive/")):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "bench"],
        cwd=dest,
        check=True,
    )


def run_stage(cmd: str, cwd: Path) -> tuple[float, float]:
    """Run one stage command; return (wall seconds, peak RSS in MiB) of that process."""
    # PYTHONPATH: the copy's own code, not the workspace's that the editable install points at
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(cwd / "src"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    # stderr into a file, not a pipe: a long stage's progress bars fill a pipe nobody reads until wait4 returns
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(shlex.split(cmd), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            stderr.seek(0)
            raise SystemExit(f"{cmd} failed:\n{stderr.read().decode(errors='replace')[-2000:]}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="yerbnet-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    copy_project(work)
    stages = yaml.safe_load((work / "dvc.yaml").read_text())["stages"]
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print("| stage | wall (s) | peak RSS (MiB) |\n|---|---:|---:|")
    total = 0.0
    for name, stage in stages.items():
        wall, peak = run_stage(stage["cmd"], work)
        total += wall
        print(f"| {name} | {wall:.1f} | {peak:.0f} |", flush=True)
    print(f"| **total** | {total:.1f} | |")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

"""dvc.yaml lists, for each stage, every yerbnet module its script imports (directly or not).

A module missing from a stage's deps means editing it changes what the stage would write
without DVC rerunning the stage. Imports are read from the source (ast), not executed:
also those inside functions, which is where the slow and optional ones live.
"""

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src"
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def module_file(name: str) -> Path | None:
    """The file of a ``yerbnet`` module or package, None for anything else."""
    if name != "yerbnet" and not name.startswith("yerbnet."):
        return None
    base = PACKAGE.joinpath(*name.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # ``from yerbnet import files`` imports the module yerbnet.files
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def closure(script: Path) -> set[Path]:
    """Every yerbnet file the script loads: the imports, their imports, and the packages they sit in."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        for name in imported_modules(todo.pop()):
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ too
                path = module_file(".".join(parts[:depth]))
                if path is not None and path.exists() and path not in seen:
                    seen.add(path)
                    todo.append(path)
    return seen


def covered(path: Path, deps: list[str]) -> bool:
    relative = path.relative_to(ROOT).as_posix()
    return any(relative == dep or relative.startswith(dep.rstrip("/") + "/") for dep in deps)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_imported_yerbnet_module_is_a_dep_of_the_stage(stage):
    spec = STAGES[stage]
    script = ROOT / spec["cmd"].split()[-1]
    assert covered(script, spec["deps"]), f"{stage}: its script {script.name} is not a dep"
    missing = sorted(p.relative_to(ROOT).as_posix() for p in closure(script) if not covered(p, spec["deps"]))
    assert not missing, f"dvc.yaml stage {stage} imports but does not depend on: {', '.join(missing)}"


def test_the_walk_sees_imports_inside_functions_and_through_packages():
    scrape = closure(ROOT / "stages" / "scrape.py")
    assert PACKAGE / "yerbnet" / "sources" / "synthetic.py" in scrape  # imported inside scrape_synthetic()
    assert PACKAGE / "yerbnet" / "labels" / "azure.py" in scrape
    assert PACKAGE / "yerbnet" / "__init__.py" in scrape

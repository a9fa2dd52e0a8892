"""The core's written rules, checked: no IO in workflow/, and Spiff confined to one module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

WORKFLOW = Path(__file__).resolve().parents[2] / "workflow"
SPIFF_MODULES = {p.name for p in WORKFLOW.glob("spiff_*.py")}
IO_MODULES = {"os", "pathlib", "io", "socket", "subprocess", "shutil", "sqlite3", "urllib", "http"}


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


CORE_FILES = sorted(WORKFLOW.glob("*.py"))


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.name)
def test_only_the_engine_module_imports_spiffworkflow(path: Path) -> None:
    if path.name in SPIFF_MODULES:
        return
    assert "SpiffWorkflow" not in _imported_roots(path), f"{path.name} imports SpiffWorkflow"


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.name)
def test_the_core_imports_nothing_that_does_io(path: Path) -> None:
    assert not (_imported_roots(path) & IO_MODULES), f"{path.name} imports an IO module"


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.name)
def test_the_core_never_opens_files(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert "open" not in calls, f"{path.name} calls open()"

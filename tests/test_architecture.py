"""The design card's dependency rules, checked on every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PLATFORM_LIBS = {"telegram", "slack_bolt", "slack_sdk"}
# package -> top-level modules it must never import
FORBIDDEN = {
    "store": PLATFORM_LIBS | {"handlers", "scheduler", "bots"},
    "handlers": PLATFORM_LIBS | {"scheduler", "bots"},
    "scheduler": PLATFORM_LIBS | {"bots"},
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependencies_point_one_way(package: str) -> None:
    files = sorted((REPO / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"
    breaches = {
        f"{path.relative_to(REPO)} imports {bad}"
        for path in files
        for bad in imported_modules(path) & FORBIDDEN[package]
    }
    assert not breaches, sorted(breaches)


def test_the_check_itself_catches_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text("import telegram.ext\nfrom slack_bolt.app import App\nfrom . import x\n")
    assert imported_modules(sample) == {"telegram", "slack_bolt"}

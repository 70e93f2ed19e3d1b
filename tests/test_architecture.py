"""The design card's dependency rules, checked on every module's imports.

Everything is one package, `ccin_bridge`; its rooms are the top-level folders. An import is
named by the room it reaches (`ccin_bridge.bots`, `.handlers`, `.store`, `.scheduler`, or
`ccin_bridge.root` for the composition root and CLI in `bridge/`), or, for another
distribution, by its top-level package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "ccin_bridge"
ROOMS = ("bots", "handlers", "store", "scheduler")
FOLDERS = {**{room: room for room in ROOMS}, "root": "bridge"}  # room -> its folder
PLATFORM_LIBS = {"telegram", "slack_bolt", "slack_sdk"}
# Our rooms' old top-level names: imported bare they are other distributions' packages now.
OLD_NAMES = set(ROOMS)
BOTS, HANDLERS, STORE, SCHEDULER, ROOT = (f"{PACKAGE}.{r}" for r in [*ROOMS, "root"])
OUTBOUND = f"{SCHEDULER}.outbound"
# room -> rooms (and libraries) it must never import
FORBIDDEN = {
    "store": PLATFORM_LIBS | {HANDLERS, SCHEDULER, OUTBOUND, BOTS, ROOT},
    "handlers": PLATFORM_LIBS | {SCHEDULER, OUTBOUND, BOTS, ROOT},
    "scheduler": PLATFORM_LIBS | {BOTS, ROOT},
    # Adapters translate in and out: they see the core and the outbound interface only.
    "bots": {STORE, SCHEDULER, ROOT},
}


def _room(module: str) -> str:
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return parts[0]
    if len(parts) == 1 or parts[1] not in ROOMS:
        return ROOT
    if parts[1:3] == ["scheduler", "outbound"]:
        return OUTBOUND
    return f"{PACKAGE}.{parts[1]}"


def imported_modules(path: Path) -> set[str]:
    """The rooms (ours) and top-level packages (others') a file imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(_room(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == PACKAGE:
                found.update(_room(f"{PACKAGE}.{alias.name}") for alias in node.names)
            else:
                found.add(_room(node.module))
    return found


def _breaches(room: str) -> set[str]:
    files = sorted((REPO / FOLDERS[room]).rglob("*.py"))
    assert files, f"{FOLDERS[room]}/ has no modules"
    return {
        f"{path.relative_to(REPO)} imports {bad}"
        for path in files
        for bad in imported_modules(path) & FORBIDDEN[room]
    }


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_dependencies_point_one_way(room: str) -> None:
    breaches = _breaches(room)
    assert not breaches, sorted(breaches)


def test_nothing_imports_our_rooms_by_their_old_top_level_names() -> None:
    folders = [*FOLDERS.values(), "tests", "bench"]
    files = sorted(p for folder in folders for p in (REPO / folder).rglob("*.py"))
    breaches = {
        f"{path.relative_to(REPO)} imports {bad}"
        for path in files
        for bad in imported_modules(path) & OLD_NAMES
    }
    assert not breaches, sorted(breaches)


def test_the_check_itself_catches_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text(
        "import telegram.ext\nfrom slack_bolt.app import App\nfrom . import x\n"
        "from ccin_bridge.store import people\nfrom ccin_bridge import cli\n"
        "from ccin_bridge.scheduler.outbound import Outbound\nimport store\n"
    )
    assert imported_modules(sample) == {"telegram", "slack_bolt", STORE, ROOT, OUTBOUND, "store"}

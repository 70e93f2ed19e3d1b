"""The design card's dependency rules, checked on every module's imports.

Everything is one package, `ccin_bridge`; its rooms are the top-level folders. An import is
named by the room it reaches (`ccin_bridge.bots`, `.handlers`, `.store`, `.scheduler`, or
`ccin_bridge.root` for the composition root and CLI in `bridge/`), or, for another
distribution, by its top-level package.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "ccin_bridge"
ROOMS = ("bots", "handlers", "store", "scheduler")
FOLDERS = {**{room: room for room in ROOMS}, "root": "bridge"}  # room -> its folder
PLATFORM_LIBS = {"telegram", "slack_bolt", "slack_sdk", "microsoft_agents"}
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


def test_the_migration_template_imports_by_the_package_name() -> None:
    """New migrations come from this template: an old name in it would be another package's."""
    template = (REPO / "store" / "migrations" / "script.py.mako").read_text(encoding="utf-8")
    old = re.compile(rf"^\s*(?:import|from)\s+(?:{'|'.join(OLD_NAMES)})\b", re.MULTILINE)
    assert not old.findall(template)
    assert "import ccin_bridge.store.models" in template


def test_the_check_itself_catches_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text(
        "import telegram.ext\nfrom slack_bolt.app import App\nfrom . import x\n"
        "from ccin_bridge.store import people\nfrom ccin_bridge import cli\n"
        "from ccin_bridge.scheduler.outbound import Outbound\nimport store\n"
    )
    assert imported_modules(sample) == {"telegram", "slack_bolt", STORE, ROOT, OUTBOUND, "store"}


# --- only the store builds and runs queries ---------------------------------------------------

MODELS = f"{STORE}.models"
# What the rooms above the store may take from SQLAlchemy (besides anything in sqlalchemy.exc):
# a session to pass down, and the URL and schema helpers the composition root and job store use.
SQLALCHEMY_ALLOWED = {"AsyncSession", "URL", "make_url", "inspect"}
SESSION_QUERIES = {"execute", "scalar", "scalars", "flush"}
ABOVE_THE_STORE = ("handlers", "scheduler", "bots", "root")


def _package_of(path: Path) -> str:
    """The package a module of ours is in, against which its relative imports resolve."""
    relative = path.resolve().relative_to(REPO)
    room = next(r for r, folder in FOLDERS.items() if folder == relative.parts[0])
    return ".".join([PACKAGE, *([] if room == "root" else [room]), *relative.parts[1:-1]])


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if node.level == 0:
        return node.module or ""
    parts = package.split(".")
    base = parts[: len(parts) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _is_under(module: str, parent: str) -> bool:
    return module == parent or module.startswith(parent + ".")


def _forbidden_import(name: str) -> bool:
    """A module (or a name imported from one) that only the store may use."""
    if _is_under(name, MODELS):
        return True
    if not _is_under(name, "sqlalchemy") or _is_under(name, "sqlalchemy.exc"):
        return False
    return name.count(".") == 0 or name.rsplit(".", 1)[1] not in SQLALCHEMY_ALLOWED


def _receiver_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def store_internals(path: Path, package: str | None = None) -> set[str]:
    """What a module uses that only the store may: the ORM models, SQLAlchemy beyond
    `SQLALCHEMY_ALLOWED` and `sqlalchemy.exc`, or a session's query methods
    (`session.execute(...)`, `ctx.session.scalar(...)`). `package`: where the module is, for
    relative imports (by default, from its path in the repository)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(f"imports {a.name}" for a in node.names if _forbidden_import(a.name))
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, package or _package_of(path))
            found.update(
                f"imports {module}.{a.name}"
                for a in node.names
                if _forbidden_import(f"{module}.{a.name}")
            )
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SESSION_QUERIES
            and _receiver_name(node.func.value).lower().endswith("session")
        ):
            found.add(f"calls {ast.unparse(node.func)}() on line {node.lineno}")
    return found


@pytest.mark.parametrize("room", ABOVE_THE_STORE)
def test_only_the_store_builds_and_runs_queries(room: str) -> None:
    files = sorted((REPO / FOLDERS[room]).rglob("*.py"))
    assert files, f"{FOLDERS[room]}/ has no modules"
    breaches = {
        f"{path.relative_to(REPO)} {used}" for path in files for used in store_internals(path)
    }
    assert not breaches, sorted(breaches)


def test_the_check_itself_catches_queries_above_the_store(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text(
        "import sqlalchemy\n"
        "import sqlalchemy.exc\n"
        "from sqlalchemy import func, select\n"
        "from sqlalchemy import exc, inspect, make_url\n"
        "from sqlalchemy.engine import URL\n"
        "from sqlalchemy.exc import IntegrityError\n"
        "from sqlalchemy.orm import selectinload\n"
        "from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker\n"
        "from ccin_bridge.store.models import Push\n"
        "from ccin_bridge.store import models, people\n"
        "import ccin_bridge.store.models\n"
        "from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore\n"
        "from ..store.models import Identity\n"
        "from ..store import outbox\n"
        "async def f(session, ctx, db_session, stream, reader):\n"
        "    await session.execute(q)\n"
        "    await ctx.session.scalar(q)\n"
        "    await db_session.scalars(q)\n"
        "    await ctx.session.flush()\n"
        "    stream.flush()\n"
        "    await reader.execute(q)\n"
        "    await session.get(Push, 1)\n"
    )
    # Checked as a module of ccin_bridge.handlers, where `..store` is ccin_bridge.store.
    assert store_internals(sample, HANDLERS) == {
        "imports sqlalchemy",
        "imports sqlalchemy.func",
        "imports sqlalchemy.select",
        "imports sqlalchemy.orm.selectinload",
        "imports sqlalchemy.ext.asyncio.async_sessionmaker",
        f"imports {MODELS}.Push",
        f"imports {MODELS}",
        f"imports {MODELS}.Identity",
        "calls session.execute() on line 16",
        "calls ctx.session.scalar() on line 17",
        "calls db_session.scalars() on line 18",
        "calls ctx.session.flush() on line 19",
    }


def _named_platforms(path: Path, names: set[str]) -> list[str]:
    """Code (not docstrings or comments) in `path` that names one of `names`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            words = node.value if id(node) not in docstrings else ""
        elif isinstance(node, ast.Name):
            words = node.id
        elif isinstance(node, ast.Attribute):
            words = node.attr
        else:
            continue
        found += [f"{path.name}:{node.lineno} {n}" for n in names if n in words.casefold()]
    return found


def test_the_neutral_core_names_no_platform() -> None:
    """What the core must know of a platform comes from its registry entry (bots/*/platform.py)."""
    from ccin_bridge.handlers import platforms

    names = set(platforms.registered())
    assert {"telegram", "slack", "terminal"} <= names
    files = [
        p
        for room in ("handlers", "store", "scheduler")
        for p in sorted((REPO / room).rglob("*.py"))
        if "migrations" not in p.parts
    ]
    breaches = [hit for path in files for hit in _named_platforms(path, names)]
    assert not breaches, breaches


def test_the_platform_check_itself_finds_a_name(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text('"""Telegram in a docstring is fine."""\nPREFIX = {"slack": "/ccin "}\n')
    assert _named_platforms(sample, {"slack", "telegram"}) == ["m.py:2 slack"]


def _module_graph() -> dict[str, set[str]]:
    """Each module of the package and the modules of ours it imports (type-only ones too)."""
    files: dict[str, Path] = {}
    for room, folder in FOLDERS.items():
        package = PACKAGE if room == "root" else f"{PACKAGE}.{room}"
        for path in (REPO / folder).rglob("*.py"):
            parts = [p for p in path.relative_to(REPO / folder).with_suffix("").parts]
            if "migrations" not in parts:
                files[".".join([package, *(p for p in parts if p != "__init__")])] = path
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    deps.add(full if full in files else node.module)
            elif isinstance(node, ast.Import):
                deps.update(alias.name for alias in node.names)
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other, round and round (strongly connected)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        for dep in sorted(graph[module]):
            if dep not in order:
                visit(dep)
                low[module] = min(low[module], low[dep])
            elif dep in stack:
                low[module] = min(low[module], order[dep])
        if low[module] == order[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in order:
            visit(module)
    return found


def test_no_modules_import_each_other_in_a_circle() -> None:
    """Type-only imports count: the Slack Home and modals take a `SlackSession` protocol, not
    the adapter that builds them."""
    graph = _module_graph()
    assert "ccin_bridge.bots.slack.home" in graph
    assert not _circles(graph)


def test_the_circle_check_itself_finds_one() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [["a", "b", "c"]]


def test_the_store_hands_records_upward_not_orm_objects() -> None:
    """store/records.py's promise: no public store function is annotated to return a model."""
    models_source = (REPO / "store" / "models.py").read_text(encoding="utf-8")
    models = set(re.findall(r"^class (\w+)\(Base\)", models_source, re.MULTILINE))
    assert {"Person", "Push", "AuditEntry"} <= models
    breaches = []
    for path in sorted((REPO / "store").glob("*.py")):
        if path.name == "models.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
                returned = set(re.findall(r"\w+", ast.unparse(node.returns)))
                if not node.name.startswith("_") and returned & models:
                    breaches.append(f"{path.name}: {node.name} -> {ast.unparse(node.returns)}")
    assert not breaches, breaches


# --- adapters enter the core through one door ---------------------------------------------------

# What an adapter may not call on the core: it hands events to `Bridge.dispatch` and carries
# out the outcome, so privacy routing, bare words and containment stay in the core.
SIDE_DOORS = {"handle", "handle_text", "handle_button"}


def side_doors(path: Path) -> list[str]:
    """Calls of the core's inner entries, and imports of the chat-event rules, in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SIDE_DOORS
            and _receiver_name(node.func.value) == "bridge"
        ):
            found.append(f"{path.name}:{node.lineno} calls bridge.{node.func.attr}")
        if isinstance(node, ast.ImportFrom) and node.module == f"{HANDLERS}.chat_events":
            found.append(f"{path.name}:{node.lineno} imports {node.module}")
        if isinstance(node, ast.ImportFrom) and node.module == f"{HANDLERS}.inline":
            found += [  # its card types are the outcome's; answering is the core's
                f"{path.name}:{node.lineno} imports {a.name}"
                for a in node.names
                if a.name == "inline_page"
            ]
        if isinstance(node, ast.ImportFrom) and node.module == HANDLERS:
            found += [
                f"{path.name}:{node.lineno} imports {HANDLERS}.{a.name}"
                for a in node.names
                if a.name == "chat_events"
            ]
    return found


def test_adapters_enter_the_core_only_through_dispatch() -> None:
    found = [d for path in sorted((REPO / "bots").rglob("*.py")) for d in side_doors(path)]
    assert not found, found


def test_the_side_door_check_itself_finds_one(tmp_path: Path) -> None:
    sample = tmp_path / "adapter.py"
    sample.write_text(
        "from ccin_bridge.handlers import chat_events\n"
        "async def f(self):\n    await self.bridge.handle_text(x, 'line')\n"
    )
    assert side_doors(sample) == [
        "adapter.py:1 imports ccin_bridge.handlers.chat_events",
        "adapter.py:3 calls bridge.handle_text",
    ]

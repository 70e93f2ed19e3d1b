"""The distribution installs one import package, `ccin_bridge`, and nothing of another's name.

Its subpackages are the repository's top-level folders (pyproject's `package-dir`). PyPI's
`scheduler` and `store` use two of those folder names as their own top-level packages; the dev
extras install both beside the bridge, so every test runs with them present, and these tests
check that the bridge still starts and that neither shadows a module of ours.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE_DIRS: dict[str, str] = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"][
    "setuptools"
]["package-dir"]


def source_files() -> dict[str, Path]:
    """Every file the wheel must carry, by its path in the wheel."""
    found: dict[str, Path] = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in sorted((REPO / folder).rglob("*")):
            relative = path.relative_to(REPO / folder)
            if "__pycache__" in relative.parts or not path.is_file():
                continue
            if path.suffix in {".py", ".yaml", ".mako"} or path.name == "py.typed":
                found["/".join([*package.split("."), *relative.parts])] = path
    return found


def our_modules() -> list[str]:
    """Every importable module of the package (migrations are data Alembic reads)."""
    return [
        name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for name in source_files()
        if name.endswith(".py") and "/migrations/" not in name
    ]


def test_every_module_is_installed_where_the_source_says() -> None:
    """Strict editable installs link files: a module added since needs the install once more."""
    missing = [name for name in our_modules() if importlib.util.find_spec(name) is None]
    assert not missing, (
        f"not installed: {missing}; run `pip install -e . --no-deps "
        "--config-settings editable_mode=strict` again"
    )


def _outside_env() -> dict[str, str]:
    """An environment in which only the installed distribution can provide `ccin_bridge`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SLACK_"))}
    env.pop("PYTHONPATH", None)
    env.pop("DATABASE_URL", None)
    return env


@pytest.mark.slow
def test_pypi_scheduler_and_store_installed_beside_do_not_break_the_bridge(
    tmp_path: Path,
) -> None:
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import scheduler, store, ccin_bridge.scheduler.service, ccin_bridge.store.db\n"
            "print(scheduler.__file__); print(store.__file__)",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_outside_env(),
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    for line in probe.stdout.splitlines():
        assert "site-packages" in line and Path(line).parent.parent != REPO, line
    config = tmp_path / "config.yaml"
    config.write_text((REPO / "config.yaml").read_text())
    for args in (["--help"], ["--config", str(config), "db", "upgrade"]):
        run = subprocess.run(
            [Path(sys.executable).with_name("ccin-bridge"), *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=_outside_env(),
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        assert "Traceback" not in run.stderr


@pytest.mark.slow
def test_the_wheel_holds_only_the_package(tmp_path: Path) -> None:
    # From a copy: building in place leaves build/lib behind, whose stale files a later wheel
    # would carry.
    source = tmp_path / "source"
    for folder in PACKAGE_DIRS.values():
        shutil.copytree(
            REPO / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    built = subprocess.run(
        [*pip_wheel, "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("ccin_bridge-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"ccin_bridge"}
    missing = sorted(source_files().keys() - set(names))
    assert not missing, missing
    entry = [n for n in names if n.endswith("entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry[0]).decode()
    assert "ccin-bridge = ccin_bridge.cli.main:main" in text
    # The licence as an SPDX expression, and its text in the wheel (PEP 639).
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    assert "License-Expression: MIT" in zipfile.ZipFile(wheel).read(metadata).decode()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    # Installed on its own (its dependencies from this environment), it chats in an empty
    # folder with the packaged configuration and the network's data.
    target, empty = tmp_path / "installed", tmp_path / "empty"
    empty.mkdir()
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)], capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SLACK_"))},
        "PYTHONPATH": str(target), "DATABASE_URL": "", "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }  # fmt: skip
    chat = subprocess.run(
        [sys.executable, "-m", "ccin_bridge", "chat"], input="/suppliers solicitors\n",
        capture_output=True, text=True, cwd=empty, env=env, timeout=120,
    )  # fmt: skip
    assert chat.returncode == 0, chat.stderr
    assert "Anthony Collins Solicitors" in chat.stdout
    assert not list(empty.iterdir())  # nothing written where it was started
    status = subprocess.run(
        [sys.executable, "-m", "ccin_bridge", "db", "status"],
        capture_output=True, text=True, cwd=empty, env=env, timeout=120,
    )  # fmt: skip
    assert "the packaged default configuration" in status.stdout

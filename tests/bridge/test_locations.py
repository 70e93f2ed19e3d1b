"""Where the config comes from and where the data goes, from any folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ccin_bridge.handlers.config import ConfigError, load_settings
from ccin_bridge.locations import ConfigSource, data_dir_for, find_config, packaged_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current folder and user folders, and no system config folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setattr("ccin_bridge.locations.SYSTEM_CONFIG_DIR", tmp_path / "etc")
    return tmp_path


def test_the_first_config_found_is_used_in_order(nowhere: Path) -> None:
    assert find_config(None, {}).is_packaged
    system = nowhere / "etc" / "config.yaml"
    system.parent.mkdir()
    system.write_text("x")
    assert find_config(None, {}) == ConfigSource(system, "the system config folder")
    user = nowhere / "xdg-config" / "ccin-bridge" / "config.yaml"
    user.parent.mkdir(parents=True)
    user.write_text("x")
    assert find_config(None, {}).path == user
    here = nowhere / "config.yaml"
    here.write_text("x")
    assert find_config(None, {}).path == here
    named = nowhere / "named.yaml"
    named.write_text("x")
    assert find_config(None, {"CCIN_BRIDGE_CONFIG": str(named)}).found_by == "CCIN_BRIDGE_CONFIG"
    chosen = find_config(str(here), {"CCIN_BRIDGE_CONFIG": str(named)})
    assert chosen == ConfigSource(here, "--config")
    assert "from --config" in chosen.describe()


def test_a_named_config_that_is_missing_is_an_error_not_the_default(nowhere: Path) -> None:
    with pytest.raises(ConfigError, match=r"--config: .*typo.yaml: file not found"):
        find_config("typo.yaml", {})
    with pytest.raises(ConfigError, match=r"CCIN_BRIDGE_CONFIG: .*: is a folder"):
        find_config(None, {"CCIN_BRIDGE_CONFIG": str(nowhere)})


def test_data_goes_where_the_config_or_the_system_says(nowhere: Path) -> None:
    packaged = find_config(None, {})
    settings = load_settings(packaged.path)
    assert settings.data_dir is None
    assert data_dir_for(settings, packaged, {}) == nowhere / "xdg-data" / "ccin-bridge"
    under_systemd = {"STATE_DIRECTORY": "/var/lib/ccin-bridge:/var/lib/other"}
    assert data_dir_for(settings, packaged, under_systemd) == Path("/var/lib/ccin-bridge")
    repo = ConfigSource(REPO / "config.yaml", "--config")
    assert data_dir_for(load_settings(repo.path), repo, under_systemd) == REPO / "data"
    relative = settings.model_copy(update={"data_dir": Path("state")})
    assert data_dir_for(relative, packaged, {}) == nowhere / "state"  # never the package's


def test_the_packaged_default_is_the_repository_config_without_its_data_folder() -> None:
    def meaning(path: Path) -> dict[str, object]:
        data = yaml.safe_load(path.read_text())
        data.pop("data_dir", None)
        return dict(data)

    assert meaning(packaged_config()) == meaning(REPO / "config.yaml")
    assert "data_dir" not in yaml.safe_load(packaged_config().read_text())


@pytest.mark.slow
def test_init_writes_a_config_that_chat_then_uses_from_an_empty_folder(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SLACK_"))},
        "DATABASE_URL": "",
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
    }

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ccin_bridge", *args], input=stdin, capture_output=True,
            text=True, cwd=tmp_path, env=env, timeout=120,
        )  # fmt: skip

    made = cli("init", "site")
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "site" / "config.yaml").read_text() == packaged_config().read_text()
    again = cli("init", "site")
    assert again.returncode == 1 and "already exists (--force replaces it)" in again.stderr

    status = cli("--config", "site/config.yaml", "db", "status")
    assert status.returncode == 0, status.stderr
    assert f"data folder: {tmp_path / 'xdg-data' / 'ccin-bridge'}" in status.stdout
    assert "ccin-bridge 0." in status.stdout and "at revision" in status.stdout

    chat = cli("chat", stdin="/suppliers solicitors\n")  # no config here: the packaged one
    assert chat.returncode == 0, chat.stderr
    assert "Anthony Collins Solicitors" in chat.stdout
    assert (tmp_path / "xdg-data" / "ccin-bridge" / "ccin-bridge.log").is_file()

"""Where the bridge finds its config file and keeps its data, wherever it is started.

The config file is the first of: `--config`, `$CCIN_BRIDGE_CONFIG`, `./config.yaml`, the
user's config folder, the system's (`/etc/ccin-bridge/`), and last the default that ships in
the package. The data folder is the config's `data_dir` (relative to its file), or else
systemd's `$STATE_DIRECTORY`, or else the user's data folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from platformdirs import user_config_path, user_data_path

from ccin_bridge.handlers.config import CONFIG_ENV, ConfigError, Settings

APP_NAME = "ccin-bridge"
CONFIG_NAME = "config.yaml"
SYSTEM_CONFIG_DIR = Path("/etc/ccin-bridge")
STATE_ENV = "STATE_DIRECTORY"  # systemd's, for StateDirectory=


def packaged_config() -> Path:
    """The default configuration inside the installed package (the network's groups,
    audiences and schedules; no data folder, so data goes to the user's)."""
    return Path(str(files("ccin_bridge").joinpath("default_config.yaml")))


@dataclass(frozen=True)
class ConfigSource:
    path: Path
    found_by: str  # said to the operator: "--config", "CCIN_BRIDGE_CONFIG", ...

    @property
    def is_packaged(self) -> bool:
        return self.found_by == "the packaged default"

    def describe(self) -> str:
        if self.is_packaged:
            return "the packaged default configuration (`ccin-bridge init` writes one to edit)"
        return f"{self.path} (from {self.found_by})"


def find_config(cli_value: str | None, env: Mapping[str, str] | None = None) -> ConfigSource:
    """The config file to use. One that is named (option or variable) must exist: a typo
    there is an error, not a silent fall back to the default."""
    env = os.environ if env is None else env
    if cli_value:
        return ConfigSource(_named(Path(cli_value), "--config"), "--config")
    if env.get(CONFIG_ENV, "").strip():
        return ConfigSource(_named(Path(env[CONFIG_ENV].strip()), CONFIG_ENV), CONFIG_ENV)
    candidates = [
        (Path.cwd() / CONFIG_NAME, "the current folder"),
        (user_config_path(APP_NAME) / CONFIG_NAME, "the user's config folder"),
        (SYSTEM_CONFIG_DIR / CONFIG_NAME, "the system config folder"),
    ]
    for path, where in candidates:
        if path.is_file():
            return ConfigSource(path, where)
    return ConfigSource(packaged_config(), "the packaged default")


def _named(path: Path, by: str) -> Path:
    if not path.is_file():
        why = "is a folder" if path.is_dir() else "file not found"
        raise ConfigError(f"{by}: {path}: {why} (`ccin-bridge init` writes a config.yaml)")
    return path.resolve()


def data_dir_for(
    settings: Settings, source: ConfigSource, env: Mapping[str, str] | None = None
) -> Path:
    env = os.environ if env is None else env
    if settings.data_dir is not None:
        named = settings.data_dir.expanduser()
        if named.is_absolute():
            return named
        # Relative to the config file that names it; to the current folder when it came from
        # the environment over the packaged default (which lives inside the installed package).
        base = Path.cwd() if source.is_packaged else source.path.parent
        return (base / named).resolve()
    state = env.get(STATE_ENV, "").strip()
    if state:  # systemd may list several, colon-separated: the first is ours
        return Path(state.split(":", 1)[0])
    return user_data_path(APP_NAME)

"""The README is the manual: every chat command, setting, environment variable and CLI
subcommand the code knows must appear in it."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import yaml
from pydantic import BaseModel, RootModel

from ccin_bridge.cli.parser import build_parser
from ccin_bridge.handlers import platforms
from ccin_bridge.handlers.commands import all_commands
from ccin_bridge.handlers.config import Secrets, Settings
from ccin_bridge.locations import data_dir_for, find_config

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


class Recording(Mapping[str, str]):
    """An empty environment that remembers which variables were asked for."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        raise KeyError(key)

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(key)
        return default

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def environment_variables() -> set[str]:
    env = Recording()
    Secrets.from_env(env)
    settings = Settings.model_validate(yaml.safe_load((REPO / "config.yaml").read_text()))
    data_dir_for(settings.model_copy(update={"data_dir": None}), find_config(None, env), env)
    return env.asked


def setting_keys(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    for name, field in model.model_fields.items():
        if issubclass(model, RootModel):  # a mapping by platform (Chats): no keys of its own
            return
        yield prefix + name
        kind = field.annotation
        for inner in (kind, *getattr(kind, "__args__", ())):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                yield from setting_keys(inner, f"{prefix}{name}.")


def mentioned(word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", README) is not None


def setting_mentioned(key: str) -> bool:
    """As code (`digest_day`, `slack_http.port`) or as a key in a YAML example (`port: 3000`)."""
    name = key.rsplit(".", 1)[-1]
    as_code = re.search(rf"`(?:[\w.]+\.)?{re.escape(name)}(?:\[\])?`", README)
    as_yaml = re.search(rf"^\s*{re.escape(name)}:", README, re.MULTILINE)
    return bool(as_code or as_yaml)


def test_every_chat_command_is_in_the_readme() -> None:
    missing = [f"/{c.name}" for c in all_commands() if not mentioned(f"/{c.name}")]
    assert not missing, missing


def test_every_environment_variable_is_in_the_readme() -> None:
    names = environment_variables()
    assert {"DATABASE_URL", "TELEGRAM_BOT_TOKEN", "CCIN_BRIDGE_CONFIG"} <= names
    assert {"TELEGRAM_BOT_TOKEN_FILE", "STATE_DIRECTORY", "CREDENTIALS_DIRECTORY"} <= names

    def explained(name: str) -> bool:  # X_FILE by the README's one rule for every secret
        from_file = name.endswith("_FILE") and mentioned(name.removesuffix("_FILE"))
        return mentioned(name) or (from_file and mentioned("NAME_FILE"))

    assert not [n for n in sorted(names) if not explained(n)]


def test_every_setting_is_in_the_readme() -> None:
    """Each key by its own name (`digest_day`), as config.yaml and the README write it."""
    keys = [k for k in setting_keys(Settings) if not k.startswith("platform_settings")]
    for spec in platforms.registered().values():
        if spec.settings is not None and spec.settings_key is not None:
            keys += [spec.settings_key, *setting_keys(spec.settings, f"{spec.settings_key}.")]
    assert "schedules.digest_day" in keys and "slack_http.port" in keys
    missing = sorted({k for k in keys if not setting_mentioned(k)})
    assert not missing, missing


def test_every_cli_subcommand_is_in_the_readme() -> None:
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    missing = [n for n in sub.choices if not mentioned(f"ccin-bridge {n}")]
    assert not missing, missing

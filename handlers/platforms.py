"""The platform registry: what the core knows of each chat platform, declared by its adapter.

Each adapter declares one `PlatformSpec` in a light module of its own (no SDK imports) and
names it in the `ccin_bridge.platforms` entry-point group of pyproject.toml; that line is the
registry. The core asks the registry whenever it must know something about a platform (how
people there type a command, what its ids look like, what it is called), so it never names
one, and a new platform is a new folder under bots/ plus that line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel

GROUP = "ccin_bridge.platforms"


def _no_problem(user_id: str) -> str | None:
    return "ids have no spaces" if any(ch.isspace() for ch in user_id) else None


def _as_text(chat_id: int | str) -> str:
    text = str(chat_id).strip()
    if not text or any(ch.isspace() for ch in text):
        raise ValueError(f"{chat_id!r} is not a chat id")
    return text


class PlatformUnreachable(Exception):
    """A platform could not be reached at start, after a few tries: said in one line."""


@dataclass(frozen=True)
class EnvVar:
    """An environment variable the platform reads; `secret` ones never reach a log."""

    name: str
    help: str
    secret: bool = True


@dataclass(frozen=True)
class RunOption:
    """An option of `ccin-bridge run` for one platform (`--telegram-webhook URL`)."""

    flag: str
    help: str
    metavar: str = "VALUE"

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")


@dataclass(frozen=True)
class PlatformSpec:
    name: str  # as stored and in `PLATFORM:USER_ID` keys, e.g. "telegram"
    label: str  # as people read it, e.g. "Telegram"
    command_prefix: str = "/"  # how people type a command there ("/ccin " on Slack)
    public: bool = True  # people reach the bot over the network (the terminal chat is local)
    group_chats: bool = False  # groups can be bound to real chats there (config `chats`)
    # People type commands without the prefix there (`search food` in a Slack DM, where `/…`
    # is Slack's own): a first word that names a command runs it, unless a flow waits.
    bare_commands: bool = False
    # It can show a message in a chat to one member alone (Slack's ephemeral messages): a
    # private answer asked for in a group is shown there to the asker, else sent to their DM.
    ephemeral: bool = False
    env: tuple[EnvVar, ...] = ()
    # Why a user id could never be an account there (None: it could), and its canonical form.
    user_id_problem: Callable[[str], str | None] = _no_problem
    canonical_user_id: Callable[[str], str] = str.strip
    # A chat id from config `chats`, checked and as the adapter writes it; raises ValueError.
    chat_id: Callable[[int | str], str] = _as_text
    example_user_id: str = "USER_ID"
    # A section of config.yaml of the platform's own (e.g. `slack_http`), read by this model;
    # the adapter finds it as `settings.platform(name)`.
    settings_key: str | None = None
    settings: type[BaseModel] | None = None
    # How the bridge runs it: when `started_by` (an environment variable) is set, the
    # composition root imports `service` ("module:function", so the SDK loads only then) and
    # calls it with the Bridge, the Secrets and the command line's options for the platform.
    started_by: str | None = None
    service: str | None = None
    # Options of `ccin-bridge run` for this platform, and the "module:function" that turns
    # the values given (by flag; None when not given) and the `Secrets` into the keyword
    # arguments of `service` (raising ConfigError, naming the option, for a bad value). It is
    # called only when one of them is given, and needs `started_by` set.
    run_options: tuple[RunOption, ...] = ()
    prepare_options: str | None = None
    # The "module:function" that draws a reply as this platform will show it, for the admin
    # console's previews: (Reply) -> list of HTML fragments, one per message the platform
    # would get (safe to put in a page: every piece of text escaped). None: no preview.
    preview: str | None = None

    @property
    def env_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.env)

    def show(self, command: str) -> str:
        """A command as people type it on this platform."""
        return self.command_prefix + command


_registry: dict[str, PlatformSpec] = {}
_loaded = False
_lock = threading.RLock()  # an entry module may ask the registry while it loads


def register(spec: PlatformSpec) -> None:
    """Add a platform (the entry points are read first, so a name cannot be taken twice)."""
    _load()
    with _lock:
        if spec.name in _registry and _registry[spec.name] != spec:
            raise ValueError(f"platform {spec.name!r} is registered already")
        _registry[spec.name] = spec


def unregister(name: str) -> None:
    with _lock:
        _registry.pop(name, None)


def registered() -> Mapping[str, PlatformSpec]:
    """Every platform, by name, in name order."""
    _load()
    return dict(sorted(_registry.items()))


def find(name: str) -> PlatformSpec | None:
    _load()
    return _registry.get(name)


def label(name: str) -> str:
    spec = find(name)
    return spec.label if spec is not None else name


def prefix(name: str) -> str:
    spec = find(name)
    return spec.command_prefix if spec is not None else "/"


def run_options() -> list[RunOption]:
    """Every registered platform's options of `ccin-bridge run`."""
    return [option for spec in registered().values() for option in spec.run_options]


def load_service(spec: PlatformSpec) -> Callable[..., Any]:
    """The factory `spec.service` names, imported now."""
    if spec.service is None:
        raise ValueError(f"{spec.name} has no service")
    found: Callable[..., Any] = _load_callable(spec.service)
    return found


def load_prepare_options(spec: PlatformSpec) -> Callable[..., Mapping[str, Any]]:
    """The function `spec.prepare_options` names, imported now."""
    if spec.prepare_options is None:
        raise ValueError(f"{spec.name} takes no options")
    found: Callable[..., Mapping[str, Any]] = _load_callable(spec.prepare_options)
    return found


def load_preview(spec: PlatformSpec) -> Callable[[Any], list[str]] | None:
    """The function `spec.preview` names, imported now (None if the platform has none)."""
    if spec.preview is None:
        return None
    found: Callable[[Any], list[str]] = _load_callable(spec.preview)
    return found


def _load_callable(reference: str) -> Any:
    module, _, attribute = reference.partition(":")
    found: Any = import_module(module)
    for part in attribute.split("."):
        found = getattr(found, part)
    if not callable(found):
        raise TypeError(f"{reference!r} is not callable")
    return found


def _load() -> None:
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        found: dict[str, PlatformSpec] = {}
        for point in entry_points(group=GROUP):
            spec = point.load()
            if not isinstance(spec, PlatformSpec) or spec.name != point.name:
                raise TypeError(
                    f"entry point {point.value!r} is not the PlatformSpec {point.name!r}"
                )
            if spec.name in found and found[spec.name] != spec:
                raise RuntimeError(f"two installed packages declare the platform {spec.name!r}")
            found[spec.name] = spec
        if not found:
            raise RuntimeError(
                f"no platform is registered (entry points {GROUP!r}): reinstall ccin-bridge"
            )
        _registry.update(found)
        _loaded = True

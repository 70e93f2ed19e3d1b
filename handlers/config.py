"""Typed settings: `config.yaml` parsed once and validated, secrets read from the environment.

Config holds configuration only. Reference data (members, suppliers, ...) lives in
`store/seed_data/`, and secrets never appear in the file (a `token`-like key is rejected).
"""

from __future__ import annotations

import os
import re
from collections.abc import ItemsView, Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal, get_origin
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsError

from ccin_bridge.handlers import platforms
from ccin_bridge.handlers.identity import parse_user_key

CONFIG_ENV = "CCIN_BRIDGE_CONFIG"
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]
MemberType = Literal["full", "associate", "affiliate", "supporter"]
Lead = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,2}[dhm]$")]  # 7d, 1h, 30m
_SECRET_KEY = re.compile(r"(token|secret|password|api_key)", re.IGNORECASE)


class ConfigError(Exception):
    """A configuration problem, phrased for the person who edits the file."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rules(_Strict):
    version: int = Field(ge=1)
    text: str = Field(min_length=1)


class Chats(RootModel[dict[str, list[str]]]):
    """A group's real chats by platform (`{telegram: [-100…], slack: [C0…]}`), each id checked
    and written as its platform's registry entry says."""

    model_config = ConfigDict(frozen=True)
    root: dict[str, list[str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _by_platform(cls, value: Any) -> dict[str, list[str]]:
        if value is PydanticUndefined or value is None:  # `Chats()`: no chats
            return {}
        if not isinstance(value, Mapping):
            raise ValueError("expected PLATFORM: [chat ids, ...]")
        if not value:
            return {}
        known = platforms.registered()
        chats: dict[str, list[str]] = {}
        for name, ids in value.items():
            spec = known.get(name)
            if spec is None or not spec.group_chats:
                with_groups = [s.name for s in known.values() if s.group_chats]
                raise ValueError(f"{name!r}: chats can be on {', '.join(with_groups)}")
            if not isinstance(ids, list):
                raise ValueError(f"{name}: expected a list of chat ids")
            checked = []
            for index, chat_id in enumerate(ids):
                try:
                    checked.append(spec.chat_id(chat_id))
                except ValueError as exc:
                    raise ValueError(f"{name}[{index}]: {exc}") from None
            chats[name] = checked
        return chats

    def items(self) -> ItemsView[str, list[str]]:
        return self.root.items()

    def on(self, platform: str) -> list[str]:
        return self.root.get(platform, [])


class GroupConfig(_Strict):
    slug: Slug
    name: str = Field(min_length=1, max_length=80)
    kind: Literal["network", "thematic"] = "network"
    description: str = Field(min_length=1)
    member_types: list[MemberType] = Field(min_length=1)
    roles: list[str] = Field(min_length=1)
    join_policy: Literal["open", "approval"] = "approval"
    rules: Rules
    chats: Chats = Chats()
    audience: Slug | None = None
    # Relay every message posted in one of the group's bound chats to its other bound chats.
    relay: bool = False


class AudienceConfig(_Strict):
    slug: Slug
    name: str = Field(min_length=1)
    description: str = ""


class Schedules(_Strict):
    digest_day: int = Field(default=1, ge=1, le=28)
    digest_time: time = time(9, 0)
    news_reminder_day: int = Field(default=20, ge=1, le=24)
    news_deadline_day: int = Field(default=24, ge=1, le=28)
    misfire_grace_minutes: int = Field(default=60, ge=1, le=24 * 60)
    # Event reminders: "7d" is the same wall-clock time 7 days before (across a clock change),
    # "1h"/"30m" an exact interval; events with no start time are reminded at reminder_time.
    reminder_leads: tuple[Lead, ...] = ("7d", "1d")
    online_reminder_leads: tuple[Lead, ...] = ("1h",)
    reminder_time: time = time(9, 0)
    reminder_check_minutes: int = Field(default=15, ge=1, le=60)
    reconcile_time: time = time(6, 30)  # daily check of the real chats against the store

    @model_validator(mode="after")
    def _checks_within_grace(self) -> Schedules:
        # A reminder falling between two checks must still be inside the grace window.
        if self.reminder_check_minutes > self.misfire_grace_minutes:
            raise ValueError(
                f"reminder_check_minutes ({self.reminder_check_minutes}) must not exceed "
                f"misfire_grace_minutes ({self.misfire_grace_minutes})"
            )
        return self


_LOCAL_HOSTS = re.compile(r"^(localhost|127\.[\d.]+|::1|0\.0\.0\.0)$", re.IGNORECASE)
_EVERY = re.compile(r"^([1-9][0-9]{0,3})([mhd])$")
MIN_FEED_MINUTES = 15


def parse_every(text: str) -> int:
    """`30m`, `6h`, `1d` as minutes; at least 15 minutes, so a council's server is not hammered."""
    found = _EVERY.match(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is not an interval such as 30m, 6h or 1d")
    minutes = int(found.group(1)) * {"m": 1, "h": 60, "d": 1440}[found.group(2)]
    if minutes < MIN_FEED_MINUTES:
        raise ValueError(f"{text!r} is too often; fetch a feed at most every {MIN_FEED_MINUTES}m")
    return minutes


def public_url(value: str | None) -> str | None:
    """A base address people reach the bridge at, to which paths are added: http(s) with a
    host that is not this machine, a valid port, and nothing a link must not carry (a user and
    password would be in every link sent; a query or fragment would end up before the path)."""
    if value is None or not value.strip():
        return None
    url = value.strip().rstrip("/")
    example = "an http(s) URL such as https://bridge.example.org"
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname or "", parts.port
    except ValueError:
        raise ValueError(f"{value!r} is not {example}") from None
    if parts.scheme.casefold() not in ("http", "https") or not host:
        raise ValueError(f"{value!r} is not {example}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{value!r} has a user name or password in it; links must not carry one")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise ValueError(f"{value!r} has a query or fragment; give the base address only")
    if _LOCAL_HOSTS.match(host):
        raise ValueError(f"{value!r} is this machine only; give the address people reach")
    return url


class HttpListener(_Strict):
    """The service's own HTTP listener (`run`): /healthz, /readyz, /metrics and the events'
    calendar feed (/calendar.ics)."""

    enabled: bool = True
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8080, ge=0, le=65535)  # 0: any free port (tests)
    # Where people reach the listener (through your HTTPS proxy), e.g. https://bridge.example.org:
    # /ics and /events then give the subscribe link webcal://bridge.example.org/calendar.ics.
    public_url: str | None = None

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        return public_url(value)


class CalendarFeed(_Strict):
    """A calendar feed the bridge keeps its events in step with."""

    url: str = Field(pattern=r"(?i)^(https?|webcal)://\S+$")
    every: str = "6h"

    @field_validator("every")
    @classmethod
    def _interval(cls, value: str) -> str:
        parse_every(value)
        return value

    @property
    def every_minutes(self) -> int:
        return parse_every(self.every)


class CalendarFeeds(_Strict):
    check_minutes: int = Field(default=15, ge=1, le=60)  # how often to look for feeds due
    feeds: list[CalendarFeed] = []
    # Fetch feeds (and `import ... URL`) from loopback, private and link-local addresses too:
    # only for an intranet calendar; off, no feed can make the bridge reach inside its network.
    allow_private_addresses: bool = False


class ConsoleConfig(_Strict):
    """The admins' web console (`run`): off unless enabled, on a listener of its own so that
    /metrics need not be public when the console is."""

    enabled: bool = False
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8081, ge=0, le=65535)  # 0: any free port (tests)
    # Where people reach it (behind your HTTPS proxy); cookies are `Secure` when it is https.
    public_url: str | None = None
    # A reverse proxy in front sets X-Forwarded-For: sign-in tries are counted per address it
    # saw, not as one address (the proxy's). Only when the console is reachable through it alone.
    trusted_proxy: bool = False
    session_hours: int = Field(default=12, ge=1, le=168)  # a sign-in lasts at most this long
    idle_minutes: int = Field(default=120, ge=5, le=1440)  # ... and ends after this long unused

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        return public_url(value)


class Settings(_Strict):
    network_name: str = Field(min_length=1)
    timezone: str = "Europe/London"
    # Relative to the config file; when unset, the user's data folder ($STATE_DIRECTORY under
    # systemd): see bridge/locations.py.
    data_dir: Path | None = None
    http: HttpListener = HttpListener()
    console: ConsoleConfig = ConsoleConfig()
    groups: list[GroupConfig] = Field(min_length=1)
    audiences: list[AudienceConfig] = []
    schedules: Schedules = Schedules()
    calendar_feeds: CalendarFeeds = CalendarFeeds()
    admins: list[str] = []
    # People in no group and not seen for this many days are erased (0: never).
    retention_days: int = Field(default=730, ge=0, le=36500)
    # A platform's own section (its registry entry's `settings_key`), read by its own model;
    # by platform name. Not written in config.yaml under this name.
    platform_settings: dict[str, BaseModel] = {}

    @model_validator(mode="before")
    @classmethod
    def _platform_sections(cls, raw: Any) -> Any:
        if not isinstance(raw, Mapping):
            return raw
        if "platform_settings" in raw:
            raise ValueError("platform_settings: unknown setting (check the README)")
        raw = dict(raw)
        sections: dict[str, BaseModel] = {}
        for spec in platforms.registered().values():
            if spec.settings is None or spec.settings_key is None:
                continue
            try:
                sections[spec.name] = spec.settings.model_validate(raw.pop(spec.settings_key, {}))
            except ValidationError as exc:
                raise ValueError(_describe(exc, under=spec.settings_key)) from None
        raw["platform_settings"] = sections
        return raw

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Europe/London)"
            ) from None
        return value

    @field_validator("admins")
    @classmethod
    def _admin_keys(cls, values: list[str]) -> list[str]:
        # Kept as `PLATFORM:USER_ID` exactly as requests spell an account, so a key with a
        # stray space or a leading zero still matches; one that never could is refused.
        keys = []
        for value in values:
            platform, user_id = parse_user_key(value)
            keys.append(f"{platform}:{user_id}")
        return keys

    @model_validator(mode="after")
    def _unique_and_linked(self) -> Settings:
        _require_unique("groups", [g.slug for g in self.groups])
        _require_unique("audiences", [a.slug for a in self.audiences])
        audiences = {a.slug for a in self.audiences}
        for group in self.groups:
            if group.audience is not None and group.audience not in audiences:
                raise ValueError(
                    f"group {group.slug!r} names audience {group.audience!r}, "
                    f"which is not in audiences ({', '.join(sorted(audiences)) or 'none'})"
                )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def platform(self, name: str) -> BaseModel | None:
        """A platform's own settings, as its registry entry's model read them."""
        return self.platform_settings.get(name)

    def group(self, slug: str) -> GroupConfig | None:
        return next((g for g in self.groups if g.slug == slug), None)


def _require_unique(what: str, slugs: list[str]) -> None:
    seen: set[str] = set()
    for slug in slugs:
        if slug in seen:
            raise ValueError(f"{what}: slug {slug!r} is used twice")
        seen.add(slug)


DATABASE_ENV = "DATABASE_URL"
CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"  # systemd's, for LoadCredential=
SECRET_FILE_LIMIT = 64 * 1024  # a token or URL; anything bigger is the wrong file


def _secret_value(name: str, env: Mapping[str, str], credentials: Path | None) -> str | None:
    direct = env.get(name, "").strip()
    named = env.get(f"{name}_FILE", "").strip()
    if direct and named:
        raise ConfigError(f"{name} and {name}_FILE are both set: set one of them")
    if direct:
        return direct
    if named:
        return _read_secret_file(f"{name}_FILE", Path(named))
    if credentials is not None and (credentials / name).is_file():
        return _read_secret_file(f"{CREDENTIALS_ENV}/{name}", credentials / name)
    return None


def _read_secret_file(what: str, path: Path) -> str | None:
    # The path may be named in an error, never the content.
    try:
        with path.open("rb") as file:
            data = file.read(SECRET_FILE_LIMIT + 1)
    except FileNotFoundError:
        raise ConfigError(f"{what}: {path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{what}: {path}: cannot be read ({exc.__class__.__name__})") from None
    if len(data) > SECRET_FILE_LIMIT:
        raise ConfigError(f"{what}: {path}: too big for a secret (over 64 KiB)")
    try:
        return data.decode("utf-8").strip() or None
    except UnicodeDecodeError:
        raise ConfigError(f"{what}: {path}: not UTF-8 text") from None


@dataclass(frozen=True)
class Secrets:
    """Credentials and endpoints; only ever from the environment, never logged. `values` holds
    the variables that are set among `DATABASE_URL` and those the registered platforms read."""

    values: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Secrets:
        """Each variable from itself, or from the file `NAME_FILE` names (Docker and Kubernetes
        secrets), or from systemd's credential `NAME` (`LoadCredential=`)."""
        env = os.environ if env is None else env
        names = [DATABASE_ENV] + [n for s in platforms.registered().values() for n in s.env_names]
        credentials = env.get(CREDENTIALS_ENV, "").strip()
        values = {}
        for name in names:
            value = _secret_value(name, env, Path(credentials) if credentials else None)
            if value:
                values[name] = value
        return cls(values)

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    @property
    def database_url(self) -> str | None:
        return self.get(DATABASE_ENV)

    def credentials(self) -> list[str]:
        """The values of the set variables that are secrets (not endpoints or URLs)."""
        secret = {v.name for s in platforms.registered().values() for v in s.env if v.secret}
        return [value for name, value in self.values.items() if name in secret]

    def __repr__(self) -> str:  # never print a credential by accident
        return f"Secrets(set={sorted(self.values)})"


SETTINGS_ENV_PREFIX = "CCIN_BRIDGE_"  # CCIN_BRIDGE_DATA_DIR, CCIN_BRIDGE_HTTP__PORT, ...
# Variables of that prefix that are not settings.
NOT_SETTINGS = frozenset({CONFIG_ENV})


def environment_overrides() -> dict[str, Any]:
    """Settings given as `CCIN_BRIDGE_<KEY>` variables, `__` between nested keys
    (`CCIN_BRIDGE_HTTP__HOST=0.0.0.0`), lists and mappings as JSON: read by pydantic-settings
    for every top-level key, the platforms' sections included, then validated with the file."""
    overlay = _overlay_model()
    source = EnvSettingsSource(  # an empty variable is unset, as for the secrets
        overlay,
        env_prefix=SETTINGS_ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
        env_ignore_empty=True,
    )
    try:
        found = source()
    except SettingsError as exc:
        field_name = re.search(r'field "(\w+)"', str(exc))
        key = field_name.group(1).upper() if field_name else "…"
        raise ConfigError(
            f"{SETTINGS_ENV_PREFIX}{key}: not valid JSON (lists and mappings are written as "
            'JSON, e.g. ["one", "two"])'
        ) from None
    known = {SETTINGS_ENV_PREFIX + name.upper() for name in overlay.model_fields}
    for name in sorted(os.environ):
        upper = name.upper()
        if not upper.startswith(SETTINGS_ENV_PREFIX) or upper in NOT_SETTINGS:
            continue
        if upper.split("__", 1)[0] not in known:
            raise ConfigError(f"{name}: unknown setting (check the spelling against the README)")
    return {key: value for key, value in found.items() if value is not None}


def _overlay_model() -> type[BaseSettings]:
    # Raw values only: a section stays a mapping of strings, so that the whole file and its
    # overrides are validated once, by Settings, with the same messages.
    fields: dict[str, Any] = {}
    for name, info in Settings.model_fields.items():
        if name == "platform_settings":
            continue
        fields[name] = (_raw_type(info.annotation), None)
    for spec in platforms.registered().values():
        if spec.settings is not None and spec.settings_key is not None:
            fields[spec.settings_key] = (dict[str, Any] | None, None)
    model: type[BaseSettings] = create_model(
        "SettingsFromEnvironment", __base__=BaseSettings, **fields
    )
    return model


def _raw_type(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return dict[str, Any] | None
    if get_origin(annotation) in (list, tuple):
        return list[Any] | None
    return str | None


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def load_settings(path: Path, *, from_environment: bool = False) -> Settings:
    """Read and validate the config file, or raise ConfigError naming the key and problem.

    With `from_environment`, `CCIN_BRIDGE_*` variables override the file's settings."""
    try:
        raw_text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: file not found (pass --config PATH or set {CONFIG_ENV})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.__class__.__name__})") from None
    try:
        raw = yaml.safe_load(raw_text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    secret_keys = list(_find_secret_keys(raw))
    if secret_keys:
        raise ConfigError(
            f"{path}: {secret_keys[0]}: secrets belong in environment variables, "
            "not in the config file (see README, Configuration)"
        )
    overrides = environment_overrides() if from_environment else {}
    try:
        return Settings.model_validate(_merge(raw, overrides))
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_describe(exc, variables=_variables(overrides))}") from None


def _variables(overrides: Mapping[str, Any], under: str = "") -> dict[str, str]:
    """The variable that set each overridden key: {"http.port": "CCIN_BRIDGE_HTTP__PORT"}."""
    found: dict[str, str] = {}
    for key, value in overrides.items():
        dotted = f"{under}.{key}" if under else key
        if isinstance(value, Mapping):
            found.update(_variables(value, dotted))
        else:
            found[dotted] = SETTINGS_ENV_PREFIX + dotted.replace(".", "__").upper()
    return found


def _find_secret_keys(node: Any, prefix: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            dotted = f"{prefix}.{key}" if prefix else str(key)
            if _SECRET_KEY.search(str(key)):
                found.append(dotted)
            found.extend(_find_secret_keys(value, dotted))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_find_secret_keys(value, f"{prefix}.{index}"))
    return found


def _describe(
    exc: ValidationError, under: str = "", variables: Mapping[str, str] | None = None
) -> str:
    """Each problem with the key it is about (`groups.0.slug: ...`), under a section's key, or
    with the environment variable that set it."""
    problems = []
    for error in exc.errors(include_url=False):
        key = ".".join([*([under] if under else []), *(str(p) for p in error["loc"])])
        set_by = next(
            (v for k, v in (variables or {}).items() if f"{key}.".startswith(f"{k}.")), None
        )
        key = set_by or key
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown setting (check the spelling against the README)"
        problems.append(f"{key}: {message}" if key else message)  # whole-file checks name keys
    return "; ".join(problems)

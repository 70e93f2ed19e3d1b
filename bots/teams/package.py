"""`ccin-bridge teams-package OUT.zip`: the Teams app package (manifest and two icons) that an
admin uploads in the Teams admin centre. Light: no SDK is loaded.

The manifest follows the current schema (1.22): the bot in personal, team and group-chat
scopes with its commands menu (Teams shows at most ten per scope, typed bare as the bot
takes them), and the search message extension (bots/teams/search_extension.py).
"""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ccin_bridge.bots.teams.platform import ALIASES, CLIENT_ID
from ccin_bridge.handlers.config import ConfigError, Secrets, Settings
from ccin_bridge.handlers.core import Command

SCHEMA_VERSION = "1.22"
SCHEMA = f"https://developer.microsoft.com/json-schemas/teams/v{SCHEMA_VERSION}/MicrosoftTeams.schema.json"
MAX_COMMANDS = 10  # per scope, Teams' limit
MAX_COMMAND_TITLE = 32
MAX_COMMAND_DESCRIPTION = 128
MAX_SHORT_NAME = 30
MAX_FULL_NAME = 100
MAX_SHORT_DESCRIPTION = 80
ACCENT = (0x1B, 0x5E, 0x20)  # a deep green
# The commands people reach for first, in the menu's order; the rest are in `help`.
MENU = ("help", "search", "events", "groups", "join", "suppliers", "news", "subscribe", "mydata")
SEARCH_COMMAND_ID = "search"  # bots/teams/search_extension.COMMAND_ID (that module loads the SDK)


def app_id(secrets: Secrets) -> str:
    found = secrets.get(CLIENT_ID) or secrets.get(ALIASES[CLIENT_ID])
    if not found:
        raise ConfigError("TEAMS_APP_ID is not set: the package names the bot by its app id")
    return found


def manifest(
    settings: Settings,
    bot_id: str,
    commands: Sequence[Command],
    *,
    website: str,
    privacy: str,
    terms: str,
    version: str,
) -> dict[str, Any]:
    for name, url in (("--website", website), ("--privacy-url", privacy), ("--terms-url", terms)):
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.netloc:
            raise ConfigError(f"{name}: Teams needs an https:// address, not {url!r}")
    network = " ".join(settings.network_name.split())
    menu = _menu(commands)
    return {
        "$schema": SCHEMA,
        "manifestVersion": SCHEMA_VERSION,
        "version": _semver(version),
        "id": bot_id,
        "developer": {
            "name": _cut(network, 32),
            "websiteUrl": website,
            "privacyUrl": privacy,
            "termsOfUseUrl": terms,
        },
        "name": {
            "short": _cut(_short_name(network), MAX_SHORT_NAME),
            "full": _cut(network, MAX_FULL_NAME),
        },
        "description": {
            "short": _cut(f"Search, events and groups of the {network}", MAX_SHORT_DESCRIPTION),
            "full": (
                f"The {network}'s bot: search its case studies, projects and suppliers, see its "
                "events, join its groups and get its digests and reminders."
            ),
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": "#{:02X}{:02X}{:02X}".format(*ACCENT),
        "bots": [
            {
                "botId": bot_id,
                "scopes": ["personal", "team", "groupChat"],
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [
                    {"scopes": ["personal", "team", "groupChat"], "commands": menu},
                ],
            }
        ],
        "composeExtensions": [
            {
                "botId": bot_id,
                "commands": [
                    {
                        "id": SEARCH_COMMAND_ID,
                        "type": "query",
                        "title": "Search",
                        "description": "Case studies, projects and suppliers",
                        "initialRun": True,
                        "parameters": [
                            {
                                "name": "query",
                                "title": "Search",
                                "description": "Words to look for",
                                "inputType": "text",
                            }
                        ],
                    }
                ],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [],
    }


def write_package(
    out: Path,
    settings: Settings,
    secrets: Secrets,
    commands: Sequence[Command],
    *,
    website: str | None,
    privacy: str | None,
    terms: str | None,
    version: str,
) -> Path:
    """Write the package; the website defaults to config `http.public_url`."""
    site = website or settings.http.public_url
    if not site:
        raise ConfigError("--website: the network's https:// address (or set http.public_url)")
    site = str(site)
    document = manifest(
        settings,
        app_id(secrets),
        commands,
        website=site,
        privacy=privacy or site,
        terms=terms or site,
        version=version,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(document, indent=2, ensure_ascii=False))
        package.writestr("color.png", color_icon())
        package.writestr("outline.png", outline_icon())
    return out


def _menu(commands: Iterable[Command]) -> list[dict[str, str]]:
    known = {c.name: c for c in commands if not c.admin_only}
    picked = [known[name] for name in MENU if name in known][:MAX_COMMANDS]
    return [
        {
            "title": _cut(c.name, MAX_COMMAND_TITLE),
            "description": _cut(" ".join(c.summary.split()), MAX_COMMAND_DESCRIPTION),
        }
        for c in picked
    ]


def _short_name(network: str) -> str:
    initials = "".join(word[0] for word in network.replace("'", "").split() if word[0].isupper())
    return initials if 2 <= len(initials) <= MAX_SHORT_NAME else network


def _semver(version: str) -> str:
    parts = [p for p in version.split(".")[:3] if p.isdigit()]
    return ".".join([*parts, "0", "0", "0"][:3])


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- icons: a ring, drawn here (no imaging library for two small PNGs) -----------------------


def color_icon() -> bytes:
    """192×192, the accent colour with a white ring (Teams' colour icon)."""
    return _ring(192, background=(*ACCENT, 255), ring=(255, 255, 255, 255))


def outline_icon() -> bytes:
    """32×32, a white ring on transparency (Teams' outline icon)."""
    return _ring(32, background=(0, 0, 0, 0), ring=(255, 255, 255, 255))


def _ring(size: int, *, background: tuple[int, ...], ring: tuple[int, ...]) -> bytes:
    centre, outer, inner = (size - 1) / 2, size * 0.38, size * 0.26
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # no filter
        for x in range(size):
            distance = ((x - centre) ** 2 + (y - centre) ** 2) ** 0.5
            rows.extend(ring if inner <= distance <= outer else background)
    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

"""`ccin-bridge teams-package OUT.zip`: the app package an admin uploads to Teams."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from ccin_bridge.bots.teams.search_extension import COMMAND_ID, QUERY_PARAMETER
from ccin_bridge.cli.main import main
from ccin_bridge.handlers.commands import all_commands

APP_ID = "11111111-2222-3333-4444-555555555555"


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (depth, colour) == (8, 6)
    (crc,) = struct.unpack(">I", data[16 + length : 20 + length])
    assert crc == zlib.crc32(data[12 : 16 + length])
    return width, height


def test_the_package_holds_the_manifest_and_icons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEAMS_APP_ID", APP_ID)
    out = tmp_path / "ccin-teams.zip"
    assert main(["teams-package", str(out), "--website", "https://network.example.org"]) == 0
    assert "wrote" in capsys.readouterr().out
    with zipfile.ZipFile(out) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        document = json.loads(package.read("manifest.json"))
        assert png_size(package.read("color.png")) == (192, 192)
        assert png_size(package.read("outline.png")) == (32, 32)
    assert document["manifestVersion"] == "1.22" and "/v1.22/" in document["$schema"]
    assert document["id"] == APP_ID
    (bot,) = document["bots"]
    assert bot["botId"] == APP_ID and set(bot["scopes"]) == {"personal", "team", "groupChat"}
    (menu,) = bot["commandLists"]
    names = {c.name for c in all_commands() if not c.admin_only}
    assert 1 <= len(menu["commands"]) <= 10
    for command in menu["commands"]:
        assert command["title"] in names  # typed bare, as the bot takes them
        assert len(command["title"]) <= 32 and 0 < len(command["description"]) <= 128
    (extension,) = document["composeExtensions"]
    (search,) = extension["commands"]
    assert search["id"] == COMMAND_ID and search["type"] == "query"
    assert [p["name"] for p in search["parameters"]] == [QUERY_PARAMETER]
    assert len(document["name"]["short"]) <= 30 and len(document["description"]["short"]) <= 80
    assert document["developer"]["privacyUrl"] == "https://network.example.org"


def test_the_package_needs_the_app_id_and_https_addresses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TEAMS_APP_ID", raising=False)
    monkeypatch.delenv("CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID", raising=False)
    out = tmp_path / "p.zip"
    assert main(["teams-package", str(out), "--website", "https://network.example.org"]) == 2
    assert "TEAMS_APP_ID is not set" in capsys.readouterr().err
    monkeypatch.setenv("TEAMS_APP_ID", APP_ID)
    assert main(["teams-package", str(out), "--website", "http://network.example.org"]) == 2
    assert "--website: Teams needs an https:// address" in capsys.readouterr().err
    assert not out.exists()

"""`ccin-bridge broadcast` to nobody warns; a multi-paragraph broadcast keeps `deliveries`
(the CLI's list and the chat command's) one line per push."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ccin_bridge.app import App
from ccin_bridge.cli import push as cli_push
from ccin_bridge.handlers.config import Secrets, Settings
from ccin_bridge.store.db import Database
from tests.conftest import Clock
from tests.handlers.push_support import ADA, ALEX, push_bridge, say, says

TEXT = "Exampleton hosts the next gathering.\n\nBook by Friday, please."


async def test_a_broadcast_to_an_audience_nobody_follows_is_not_queued_silently(
    settings: Settings,
    sqlite_db: Database,
    clock: Clock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    app = App(bridge.settings, Secrets.from_env({}), bridge.db, bridge, tmp_path)
    args = argparse.Namespace(audience="officers", text=TEXT, file=None)
    assert await cli_push.broadcast(args, app) == 0
    printed = capsys.readouterr()
    assert "nobody is subscribed to Officers yet, so it was not sent to anyone" in printed.err
    assert "A running bridge" not in printed.out  # nothing is left for one to deliver


async def test_a_multi_paragraph_broadcast_keeps_the_deliveries_list_one_line_a_push(
    settings: Settings,
    sqlite_db: Database,
    clock: Clock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    await say(bridge, ALEX, "/subscribe announcements")
    app = App(bridge.settings, Secrets.from_env({}), bridge.db, bridge, tmp_path)
    for _ in range(2):
        await cli_push.broadcast(argparse.Namespace(audience="everyone", text=TEXT, file=None), app)
    capsys.readouterr()
    assert await cli_push.deliveries(argparse.Namespace(push_id=None), app) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert all("Everyone: Exampleton hosts the next gathering. Book by" in line for line in lines)
    listed = says(await say(bridge, ADA, "/deliveries"))
    assert "broadcast: Broadcast to Everyone: Exampleton hosts the next gathering. Book" in listed
    report = says(await say(bridge, ADA, "/deliveries 1"))
    assert "#1: Broadcast to Everyone: Exampleton hosts the next gathering. Book by" in report

"""`ccin-bridge broadcast` and `ccin-bridge deliveries`: the real CLI process, and the same
commands in-process with the real delivery lanes draining what they queued."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ccin_bridge.app import App
from ccin_bridge.cli import push as cli_push
from ccin_bridge.handlers.config import Secrets, Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.store.db import Database
from tests.bridge.test_cli import run_cli
from tests.conftest import Clock
from tests.handlers.push_support import ALEX, deliver, push_bridge, say


@pytest.mark.slow  # runs the real CLI
def test_broadcast_queues_and_deliveries_reports_through_the_real_cli(tmp_path: Path) -> None:
    chat = run_cli(["chat", "--as", "Eve"], tmp_path, stdin="/subscribe digest:officers\n")
    assert chat.returncode == 0 and "now subscribed" in chat.stdout
    message = tmp_path / "message.txt"
    message.write_text("First paragraph.\n\nSecond paragraph.\n", encoding="utf-8")
    queued = run_cli(["broadcast", "--audience", "officers", "--file", str(message)], tmp_path)
    assert queued.returncode == 0, queued.stderr
    assert "Queued broadcast #1 to Officers: 1 chat." in queued.stdout
    assert "A running bridge (ccin-bridge run) delivers it" in queued.stdout
    report = run_cli(["deliveries", "1"], tmp_path)
    assert report.returncode == 0, report.stderr
    assert "Push #1: broadcast, audience officers" in report.stdout
    assert "1 recipient chat, still going out" in report.stdout and "pending  1" in report.stdout
    listing = run_cli(["deliveries"], tmp_path)
    assert "#1" in listing.stdout and "Broadcast to Officers: First paragraph." in listing.stdout


@pytest.mark.slow  # runs the real CLI
def test_bad_cli_input_is_explained_without_a_traceback(tmp_path: Path) -> None:
    wrong = run_cli(["broadcast", "--audience", "pets", "--text", "hello"], tmp_path)
    assert wrong.returncode == 2 and "no audience called “pets”" in wrong.stderr
    missing = run_cli(["broadcast", "--audience", "officers", "--file", "nope.txt"], tmp_path)
    assert missing.returncode == 2
    assert "cannot read nope.txt: No such file or directory" in missing.stderr
    empty = run_cli(["broadcast", "--audience", "everyone", "--text", "   "], tmp_path)
    assert empty.returncode == 2 and "has no text" in empty.stderr
    unknown = run_cli(["deliveries", "42"], tmp_path)
    assert unknown.returncode == 1 and "there is no push #42" in unknown.stderr
    for result in (wrong, missing, empty, unknown):
        assert "Traceback" not in result.stderr


async def _app(bridge: Bridge, tmp_path: Path) -> App:
    return App(bridge.settings, Secrets.from_env({}), bridge.db, bridge, tmp_path)


async def test_a_queued_cli_broadcast_is_delivered_with_its_paragraphs(
    settings: Settings,
    sqlite_db: Database,
    clock: Clock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    await say(bridge, ALEX, "/subscribe announcements")
    app = await _app(bridge, tmp_path)
    text = "Exampleton hosts the next gathering.\n\nBook by Friday, please."
    args = argparse.Namespace(audience="everyone", text=text, file=None)
    assert await cli_push.broadcast(args, app) == 0
    assert "Queued broadcast #1 to Everyone: 1 chat." in capsys.readouterr().out
    sent = await deliver(bridge.db)
    [got] = sent.to("alex")
    paragraphs = [b for b in got.blocks if getattr(b, "spans", None)]
    assert [b.spans[0].text for b in paragraphs][:2] == [  # type: ignore[union-attr]
        "Exampleton hosts the next gathering.",
        "Book by Friday, please.",
    ]
    assert await cli_push.deliveries(argparse.Namespace(push_id=1), app) == 0
    out = capsys.readouterr().out
    assert "1 recipient chat, finished" in out and "sent     1" in out

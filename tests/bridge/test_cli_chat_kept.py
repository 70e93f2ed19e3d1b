"""`ccin-bridge chat --as Ada`, run as a real process: what was queued for Ada while no chat of
hers was open is shown first, once, and recorded as delivered."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bridge.test_cli import run_cli

pytestmark = pytest.mark.slow  # runs the real CLI


def test_a_broadcast_queued_while_ada_was_away_is_shown_when_she_opens_the_chat(
    tmp_path: Path,
) -> None:
    first = run_cli(["chat", "--as", "Ada"], tmp_path, stdin="/subscribe digest:officers\n")
    assert first.returncode == 0 and "now subscribed" in first.stdout
    queued = run_cli(
        ["broadcast", "--audience", "officers", "--text", "Meet on Tuesday."], tmp_path
    )
    assert "Queued broadcast #1 to Officers: 1 chat." in queued.stdout
    back = run_cli(["chat", "--as", "Ada"], tmp_path, stdin="/quit\n")
    assert back.returncode == 0, back.stderr
    out = back.stdout
    assert "While you were away: 1 message." in out and "Meet on Tuesday." in out
    assert out.index("Meet on Tuesday.") < out.index("Hello Ada")
    again = run_cli(["chat", "--as", "Ada"], tmp_path, stdin="/quit\n")
    assert "While you were away" not in again.stdout and "Meet on Tuesday." not in again.stdout
    report = run_cli(["deliveries", "1"], tmp_path)
    assert "1 recipient chat, finished:" in report.stdout and "sent     1" in report.stdout

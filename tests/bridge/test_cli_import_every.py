"""`ccin-bridge import events URL --every 6h`: the feed subscribed and fetched at once, over
real HTTP from 127.0.0.1; the scheduler's calendar-feeds job fetches it again."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.bridge import test_cli
from tests.bridge.test_cli_import_url import feeds  # noqa: F401 (the local server's fixture)

# The fake feeds are on 127.0.0.1: the documented opt-in for private addresses.
PRIVATE_OK = {"CCIN_BRIDGE_CALENDAR_FEEDS__ALLOW_PRIVATE_ADDRESSES": "true"}


def run_cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return test_cli.run_cli(args, tmp_path, **PRIVATE_OK)


@pytest.mark.slow  # runs the real CLI
def test_import_every_subscribes_and_imports(tmp_path: Path, feeds: str) -> None:  # noqa: F811
    url = f"{feeds}/feeds/exampleton.ics"
    first = run_cli(["import", "events", url, "--every", "6h"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("2 created, 0 updated")
    assert "Subscribed: a running bridge fetches it again every 6h." in first.stdout
    jobs = run_cli(["jobs"], tmp_path)
    assert "calendar-feeds" in jobs.stdout
    # The same feed again: updated in place, still one subscription.
    again = run_cli(["import", "events", url, "--every", "1d"], tmp_path)
    assert again.returncode == 0 and "2 unchanged" in again.stdout
    too_often = run_cli(["import", "events", url, "--every", "5m"], tmp_path)
    assert too_often.returncode != 0 and "too often" in too_often.stderr
    a_file = run_cli(["import", "events", "events.ics", "--every", "6h"], tmp_path)
    assert a_file.returncode != 0 and "--every is for events from a feed URL" in a_file.stderr
    assert "Traceback" not in too_often.stderr + a_file.stderr

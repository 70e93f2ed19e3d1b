"""`ccin-bridge jobs` and `ccin-bridge ics`, run as real processes on a temporary data dir."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ccin_bridge.handlers.config import Settings
from ccin_bridge.scheduler.service import build_scheduler
from ccin_bridge.store.db import Database
from ccin_bridge.store.leadership import Leadership
from tests.bridge.test_cli import REPO, run_cli
from tests.processes import bridge_env

pytestmark = pytest.mark.slow  # each test starts the bridge as a real process


def _store_jobs(settings: Settings, database: Path, probe_at: datetime) -> None:
    """What a running bridge leaves behind: the jobs in the store, one moved to `probe_at`."""

    async def run() -> None:
        scheduler = build_scheduler(settings, f"sqlite:///{database}")
        scheduler.start(paused=True)
        scheduler.modify_job("news-reminder", next_run_time=probe_at)
        scheduler.shutdown(wait=False)

    asyncio.run(run())


def test_jobs_lists_declared_then_stored_jobs_in_the_network_zone(
    tmp_path: Path, settings: Settings
) -> None:
    fresh = run_cli(["jobs"], tmp_path)
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.startswith("leader: the one bridge process on this SQLite database")
    assert "event-reminders" in fresh.stdout and "digest:officers" in fresh.stdout
    assert "(not stored yet" in fresh.stdout
    assert fresh.stdout.rstrip().endswith("times in Europe/London")

    _store_jobs(
        settings, tmp_path / "data" / "ccin-bridge.sqlite3", datetime(2027, 7, 1, 8, 0, tzinfo=UTC)
    )
    stored = run_cli(["jobs", "--json"], tmp_path)
    assert stored.returncode == 0, stored.stderr
    listed = json.loads(stored.stdout)
    assert listed["leader"]["backend"] == "sqlite"
    rows = {row["id"]: row for row in listed["jobs"]}
    assert all(row["stored"] for row in rows.values())
    assert rows["news-reminder"]["next_run"] == "2027-07-01T09:00:00+01:00"  # BST
    assert rows["digest:officers"]["schedule"] == "cron[day='1', hour='9', minute='0']"


@pytest.mark.postgres
async def test_jobs_names_the_process_that_leads_on_postgresql(
    tmp_path: Path, postgres_url: str
) -> None:
    nobody = await asyncio.to_thread(run_cli, ["jobs"], tmp_path, DATABASE_URL=postgres_url)
    assert nobody.returncode == 0, nobody.stderr
    assert nobody.stdout.startswith("leader: none (no bridge process runs the scheduled jobs")

    db = Database(postgres_url)
    leadership = Leadership(db)  # as a running bridge holds it, here in the test's process
    try:
        assert await leadership.try_lead()
        pid = leadership.backend_pid
        listed = await asyncio.to_thread(run_cli, ["jobs"], tmp_path, DATABASE_URL=postgres_url)
        as_json = await asyncio.to_thread(
            run_cli, ["jobs", "--json"], tmp_path, DATABASE_URL=postgres_url
        )
    finally:
        await leadership.step_down()
        await db.close()
    assert listed.returncode == 0, listed.stderr
    first = listed.stdout.splitlines()[0]
    assert first.startswith(
        f"leader: ccin-bridge@{socket.gethostname()}:{os.getpid()} "
        f"(PostgreSQL pid {pid}, from 127.0.0.1, connected "
    )
    leader = json.loads(as_json.stdout)["leader"]
    assert leader["application_name"] == f"ccin-bridge@{socket.gethostname()}:{os.getpid()}"
    assert leader["pid"] == pid and leader["backend_start"]


def test_ics_writes_the_whole_feed(tmp_path: Path) -> None:
    to_file = run_cli(["ics", "--out", "feed.ics"], tmp_path)
    assert to_file.returncode == 0, to_file.stderr
    content = (tmp_path / "feed.ics").read_bytes()
    count = content.count(b"BEGIN:VEVENT")
    assert to_file.stdout.strip() == f"{count} events written to feed.ics"
    assert count > 0
    assert content.startswith(b"BEGIN:VCALENDAR\r\n") and content.endswith(b"END:VCALENDAR\r\n")
    assert max(len(line) for line in content.split(b"\r\n")) <= 75
    assert b"RRULE:FREQ=MONTHLY;BYDAY=1TU" in content

    printed = run_cli(["ics"], tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith("BEGIN:VCALENDAR")


def test_ics_reports_an_unwritable_file(tmp_path: Path) -> None:
    result = run_cli(["ics", "--out", str(tmp_path / "missing" / "feed.ics")], tmp_path)
    assert result.returncode == 1
    assert "cannot write" in result.stderr


def test_jobs_says_which_stored_jobs_are_overdue(tmp_path: Path, settings: Settings) -> None:
    run_cli(["db", "upgrade"], tmp_path)
    # As the bridge left it when it stopped an hour before the news reminder was due.
    _store_jobs(
        settings, tmp_path / "data" / "ccin-bridge.sqlite3", datetime(2026, 1, 20, 9, 0, tzinfo=UTC)
    )
    listed = run_cli(["jobs"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    [line] = [ln for ln in listed.stdout.splitlines() if "news-reminder" in ln]
    assert "(overdue: the bridge is not running; it runs once on start if within 60" in line
    assert sum("overdue" in ln for ln in listed.stdout.splitlines()) == 1


def test_output_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    reader, writer = os.pipe()
    os.close(reader)  # like `ccin-bridge jobs | head` after head has gone
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "ccin_bridge",
                "--config",
                str(tmp_path / "config.yaml"),
                "jobs",
            ],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            timeout=120,
            env=bridge_env(),
        )
    finally:
        os.close(writer)
    assert result.returncode == 141
    assert result.stderr == ""

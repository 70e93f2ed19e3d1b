"""The helpers of `python -m bench.multiprocess`: its config really schedules the jobs it
counts, and its tallies count what they say (the benchmark itself is not part of pytest)."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bench import multiprocess
from bench.multiprocess import (
    REPO,
    TEXT,
    Expect,
    bench_config,
    due_minute,
    leader_pid,
    log_outcomes,
    tally,
)
from ccin_bridge.handlers.config import load_settings
from ccin_bridge.handlers.membership import BoundChat, bound_chats
from ccin_bridge.scheduler.service import scheduled_jobs
from tests.fakes.telegram_api import SentMessage

LONDON = ZoneInfo("Europe/London")


def message(chat: int, text: str) -> SentMessage:
    return SentMessage(chat, 1, text, text, None, None, {})


def test_due_minute_is_the_next_whole_minute_after_the_lead() -> None:
    now = datetime(2026, 12, 1, 17, 50, 20, tzinfo=LONDON)
    assert due_minute(now, 40) == datetime(2026, 12, 1, 17, 51, tzinfo=LONDON)
    assert due_minute(now, 100) == datetime(2026, 12, 1, 17, 52, tzinfo=LONDON)
    assert due_minute(now, 40).second == 0


def test_the_config_makes_the_counted_jobs_fall_due_then(tmp_path: Path) -> None:
    due = datetime(2026, 12, 3, 17, 52, tzinfo=LONDON)
    text, due_jobs = bench_config((REPO / "config.yaml").read_text(), due, -1009000000042)
    config = tmp_path / "config.yaml"
    config.write_text(text)
    settings = load_settings(config)  # valid, times still times
    assert settings.schedules.digest_time == time(17, 52)
    officers = settings.group("officers")
    assert officers is not None
    assert bound_chats(officers) == [BoundChat("telegram", "-1009000000042")]
    fire = {
        spec.id: spec.trigger.get_next_fire_time(None, due.replace(minute=51))
        for spec in scheduled_jobs(settings)
    }
    assert due_jobs == sorted(job for job, at in fire.items() if at == due)
    assert {"news-reminder", "digest:members", "reconcile-chats"} <= set(due_jobs)


def test_days_config_cannot_name_are_left_out() -> None:
    template = (REPO / "config.yaml").read_text()
    _, on_the_26th = bench_config(template, datetime(2026, 12, 26, 9, 0, tzinfo=LONDON), -1)
    assert "news-reminder" not in on_the_26th and "digest:members" in on_the_26th
    _, on_the_30th = bench_config(template, datetime(2026, 12, 30, 9, 0, tzinfo=LONDON), -1)
    assert on_the_30th == ["reconcile-chats", "rules-reminders"]


def test_leader_pid_reads_the_application_name() -> None:
    assert leader_pid({"leader": {"application_name": "ccin-bridge@host-1:4242"}}) == 4242
    assert leader_pid({"leader": None, "jobs": []}) is None
    assert leader_pid({"leader": {"application_name": None}}) is None


def test_tally_counts_missing_and_repeated_messages_per_kind() -> None:
    expect = Expect(recipients=[1, 2], digest_subscribers=[3], invitees=[4])
    sent = [
        message(1, f"Announcement for Everyone\n{TEXT}"),
        message(1, f"Announcement for Everyone\n{TEXT}"),
        message(3, "December 2026 digest for Officers\n..."),
        message(4, "Your invitation to Officer Network\n..."),
        message(4, "Send your news for the monthly digest\n..."),
    ]
    found = tally(sent, expect)
    assert found.twice == {"broadcast": 1} and found.twice_chats == {1}
    assert found.missing == {"broadcast": 1, "news-reminder": 1}
    assert found.missing_chats == {2, 3}
    assert found.unexpected == 1  # the invitee's reminder


def test_log_outcomes_counts_each_run_of_a_push_job() -> None:
    logs = [
        "x INFO ccin_bridge.scheduler.push_jobs: queued digest digest:officers:2026-12 as push 3",
        "x INFO ccin_bridge.scheduler.push_jobs: digest digest:officers:2026-12 was queued "
        "already; nothing sent\nx INFO y: queued news reminder as push 7 to 5 chat(s)",
    ]
    counted = log_outcomes(logs, ["digest:officers", "digest:leaders", "news-reminder"])
    assert counted == {"digest:officers": 2, "digest:leaders": 0, "news-reminder": 1}


def test_a_variant_run_keeps_the_main_results_and_the_other_way_round(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "results.md"
    monkeypatch.setattr(multiprocess, "RESULTS", results)
    multiprocess.write_results("# Main\n\nfirst\n", variant=False)
    multiprocess.write_results(f"{multiprocess.VARIANT}--kill-offset 0.3\n\nlost\n", variant=True)
    multiprocess.write_results("# Main\n\nsecond\n", variant=False)
    assert results.read_text() == "# Main\n\nsecond\n\n# Variant: --kill-offset 0.3\n\nlost\n"

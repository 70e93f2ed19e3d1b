"""Faults a reviewer found in calendar imports and feeds, each pinned by a test: rules that
never occur, huge or broken feeds, and what a feed may cancel. The calendars are fictional."""

from __future__ import annotations

from pathlib import Path

from ccin_bridge.store.db import Database
from ccin_bridge.store.importers import import_file


def _calendar(*events: str) -> bytes:
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Exampleton//Test//EN\r\n"
    return (head + "".join(events) + "END:VCALENDAR\r\n").encode()


def _event(uid: str, title: str, starts: str, extra: str = "") -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nSUMMARY:{title}\r\nDTSTART:{starts}\r\n{extra}END:VEVENT\r\n"
    )


async def test_a_rule_that_never_occurs_is_refused_as_such(db: Database, tmp_path: Path) -> None:
    # 31 February never comes; nor, within ten years of March 2026, a Monday 29 February
    # (the first is in 2044): both are refused, the search going no further than that.
    path = tmp_path / "rules.ics"
    path.write_bytes(
        _calendar(
            _event(
                "never@exampleton.example",
                "Exampleton never",
                "20260302T193000",
                "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=31\r\n",
            ),
            _event(
                "leap@exampleton.example",
                "Exampleton leap Monday",
                "20260302T193000",
                "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO\r\n",
            ),
            _event(
                "weekly@exampleton.example",
                "Exampleton weekly",
                "20260302T193000",
                "RRULE:FREQ=WEEKLY;COUNT=3\r\n",
            ),
        )
    )
    async with db.session() as session:
        report = await import_file(session, "events", path)
    assert report.created == 1
    never = "never occurs within 10 years of the start"
    assert [
        (e.where, e.reason.startswith("rrule 'FREQ="), e.reason.endswith(never))
        for e in report.errors
    ] == [
        ("line 4", True, True),
        ("line 10", True, True),
    ]

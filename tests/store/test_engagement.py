"""The Engagement charts' numbers from real rows on SQLite and PostgreSQL: members per group
and platform at each month's end, joins and leaves, subscribers and approval times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import inspect, update

from ccin_bridge.handlers import click_links, engagement
from ccin_bridge.handlers.config import Settings
from ccin_bridge.store import clicks, groups, outbox, people, subscriptions
from ccin_bridge.store import engagement as store_engagement
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import AuditEntry, Identity, Membership
from tests.conftest import NOW


def _at(month: int, day: int = 10) -> datetime:
    return datetime(2026, month, day, 12, 0, tzinfo=UTC)


async def _person(db: Database, name: str) -> int:
    async with db.session() as session:
        found = await people.touch_identity(
            session, platform="telegram", external_id=name, display_name=name, username=None
        )
    return found.id


async def _member(
    db: Database, person: int, slug: str, status: str, made: datetime, changed: datetime
) -> int:
    async with db.session() as session:
        await groups.set_membership(session, person_id=person, slug=slug, status=status)
        row = await session.execute(
            update(Membership)
            .where(Membership.person_id == person)
            .values(created_at=made, updated_at=changed)
            .returning(Membership.id)
        )
        return int(row.scalar_one())


async def _log(db: Database, at: datetime, action: str, **detail: Any) -> None:
    actor, subject = detail.pop("actor", None), detail.pop("subject", None)
    async with db.session() as session:
        session.add(
            AuditEntry(at=at, actor_id=actor, subject_id=subject, action=action, detail=detail)
        )


def _series(chart: engagement.Chart) -> dict[str, tuple[int, ...]]:
    return {f"{s.panel}: {s.name}" if s.panel else s.name: s.values for s in chart.series}


async def test_members_joins_leaves_subscribers_and_approval_times(
    db: Database, settings: Settings
) -> None:
    async with db.session() as session:
        specs = [groups.GroupSpec(g.slug, g.name, g.rules.version) for g in settings.groups]
        await groups.sync_groups(session, specs)
    ada, bo, cy, di = [await _person(db, n) for n in ("ada", "bo", "cy", "di")]
    async with db.session() as session:  # Ada is on Slack too
        session.add(Identity(person_id=ada, platform="slack", external_id="U1", display_name=""))
        await subscriptions.set_wanted(session, ada, "digest:officers", True)
        await subscriptions.set_wanted(session, bo, "digest:officers", True)
        await subscriptions.set_wanted(session, cy, "digest:leaders", False)  # opted out
    await _member(db, ada, "officers", "active", _at(9), _at(9))
    await _log(db, _at(9), "group.join", actor=ada, group="officers")
    await _member(db, bo, "leaders", "left", _at(10), _at(11, 5))
    await _log(db, _at(10), "admin.approve", subject=bo, group="leaders", request=999)
    await _log(db, _at(11, 5), "group.leave", actor=bo, group="leaders")
    await _member(db, cy, "officers", "active", _at(8), _at(8))  # imported: nothing logged
    request = await _member(db, di, "champions", "active", _at(11, 1), _at(11, 1))
    await _log(db, _at(11, 1), "group.request", actor=di, group="champions", request=request)
    await _log(
        db,
        _at(11, 1) + timedelta(hours=2),
        "admin.approve",
        subject=di,
        group="champions",
        request=request,
    )
    await _log(db, _at(11, 2), "group.request", actor=di, group="leaders", request=request + 50)

    async with db.read() as session:
        charts = {c.slug: c for c in await engagement.charts(session, settings, NOW)}

    async with db.read() as session:
        only = await engagement.charts(session, settings, NOW, ("joins-leaves", "links"))
    assert only == [charts["joins-leaves"], charts["links"]]  # a CSV builds its chart alone

    members = charts["members"]
    assert members.rows[-4:] == ("Aug 2026", "Sep 2026", "Oct 2026", "Nov 2026")
    series = _series(members)
    assert series["Officer Network: Telegram"][-4:] == (1, 2, 2, 2)
    assert series["Officer Network: Slack"][-4:] == (0, 1, 1, 1)
    assert series["Leaders and Mayors: Telegram"][-4:] == (0, 0, 1, 0)
    assert "3 people are in a group now" in members.summary

    moves = _series(charts["joins-leaves"])
    assert moves["Joined"][-4:] == (1, 1, 1, 1) and moves["Left"][-4:] == (0, 0, 0, 1)

    readers = charts["subscribers"]
    officers = readers.rows.index("Officers")
    assert _series(readers)["People"][officers] == 2
    assert _series(readers)["Slack"][officers] == 1
    assert _series(readers)["People"][readers.rows.index("Leaders and Mayors")] == 0

    waits = charts["approval-times"]
    assert _series(waits)["Approved"] == (0, 1, 0, 0, 0)  # 2 hours; the other still waits
    assert "How long 1 join request waited" in waits.summary
    header, *rows = waits.table()
    assert header == ["Waited", "Approved", "Declined"] and rows[1] == ["1 to 24 hours", "1", "0"]


async def test_clicks_of_a_push_to_few_chats_are_never_shown(
    settings: Settings, db: Database
) -> None:
    """A push to fewer than MIN_RECIPIENTS chats would tell whose the clicks were (a push
    tracked when the threshold was lower, or a count written by hand)."""
    wide_chats = click_links.MIN_RECIPIENTS
    pushes = {}
    async with db.session() as session:
        for name, chats in (("few", wide_chats - 1), ("wide", wide_chats)):
            targets = [outbox.Target("telegram", f"{name}{n}") for n in range(chats)]
            push_id = await outbox.create_push(
                session, kind="broadcast", payload={}, targets=targets, title=f"Broadcast: {name}"
            )
            assert push_id is not None
            url = f"https://example.org/{name}"
            token = await clicks.add_link(
                session, push_id=push_id, url=url, item=name, audience=None
            )
            pushes[name] = (push_id, token)
    async with db.session() as session:
        links = {name: await clicks.target(session, token) for name, (_, token) in pushes.items()}
        await clicks.count_clicks(
            session, {(link.id, NOW.date()): 3 for link in links.values() if link is not None}
        )
    async with db.read() as session:
        charts = {c.slug: c for c in await engagement.charts(session, settings, NOW)}
    pushed = charts["pushes"]
    clicks_per_row = dict(zip(pushed.rows, _series(pushed)["Clicks"], strict=True))
    assert clicks_per_row == {
        f"#{pushes['wide'][0]} Broadcast: wide": 3,
        f"#{pushes['few'][0]} Broadcast: few": 0,
    }
    assert charts["links"].rows == (f"wide (#{pushes['wide'][0]}, all)",)


async def test_the_audit_log_is_read_by_action_and_time(db: Database) -> None:
    """The charts read a few actions of the whole log, oldest first: an index serves it."""

    def indexes(connection: object) -> list[list[str]]:
        return [list(i["column_names"]) for i in inspect(connection).get_indexes("audit_log")]

    async with db.read() as session:
        found = await (await session.connection()).run_sync(indexes)
    assert ["action", "at"] in found


async def test_the_newest_pushes_come_with_their_own_deliveries(db: Database) -> None:
    """Only the newest pushes' deliveries are counted (ids picked first, then joined)."""
    ids = []
    async with db.session() as session:
        for n in range(4):
            targets = [outbox.Target("telegram", f"c{n}-{i}") for i in range(n + 1)]
            push_id = await outbox.create_push(
                session, kind="broadcast", payload={}, targets=targets, title=f"B{n}"
            )
            assert push_id is not None
            ids.append(push_id)
        await outbox.create_push(session, kind="reminder", payload={}, targets=[], title="R")
    async with db.read() as session:
        found = await store_engagement.pushes(session, ("broadcast",), 3)
    assert [(p.id, p.recipients) for p in found] == [(ids[3], 4), (ids[2], 3), (ids[1], 2)]

"""Pushes to Teams: proactive messages through the outbox's real delivery lanes, to the
conversation reference kept for each person, against the fake Bot Connector."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from ccin_bridge.bots.teams.adapter import TeamsAdapter
from ccin_bridge.handlers import reply_codec
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.replies import ReplyBuilder, bold
from ccin_bridge.scheduler.delivery import DeliveryPolicy, DeliveryService
from ccin_bridge.scheduler.outbound import Blocked, RetryLater, Undeliverable
from ccin_bridge.store import outbox
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Delivery, Identity, utcnow
from ccin_bridge.store.outbox import Target
from tests.bots.teams.conftest import ADA, BEN, Person, Teams
from tests.fakes.teams_connector import MAX_MESSAGE_BYTES, FakeConnector

FAST = DeliveryPolicy(lanes=1, batch=10, poll_seconds=0.02, lease=timedelta(seconds=30))


def dm(person: Person) -> ChatRef:
    return ChatRef("teams", person.aad, is_private=True)


async def identity(db: Database, person: Person) -> Identity:
    async with db.read() as session:
        found = await session.scalar(
            select(Identity).where(Identity.platform == "teams", Identity.external_id == person.aad)
        )
    assert found is not None
    return found


async def remind(db: Database, person: Person, text: str) -> int:
    """Queue a reminder to this person, as the reminder job does."""
    found = await identity(db, person)
    async with db.session() as session:
        push_id = await outbox.create_push(
            session,
            kind="reminder",
            payload=reply_codec.encode(ReplyBuilder().para(bold("Reminder: "), text).build()),
            targets=[Target("teams", person.aad, found.id, True)],
            title="Reminder",
        )
    assert push_id is not None
    return push_id


async def settle(service: DeliveryService, push_id: int) -> outbox.PushReport:
    """Run the lanes until the push has settled, making every retry due at once."""
    async with asyncio.timeout(20):
        while True:
            await service.run_once()
            async with service.db.session() as session:
                await session.execute(
                    update(Delivery)
                    .where(Delivery.status == outbox.PENDING)
                    .values(next_attempt_at=utcnow() - timedelta(hours=1))
                )
                report = await outbox.report(session, push_id)
            assert report is not None
            if report.finished:
                return report


async def test_a_reminder_reaches_the_personal_chat_proactively(
    teams: Teams, adapter: TeamsAdapter, connector: FakeConnector, sqlite_db: Database
) -> None:
    await teams.say("start")  # the bridge keeps her conversation reference
    before = len(connector.sent)
    push_id = await remind(sqlite_db, ADA, "Officer Network meets tomorrow")
    report = await settle(DeliveryService(sqlite_db, {"teams": adapter}, FAST), push_id)
    assert report.counts.get(outbox.SENT) == 1
    (pushed,) = connector.sent[before:]
    assert pushed.conversation_id == ADA.personal
    (card,) = pushed.cards
    assert card["fallbackText"] == "Reminder: Officer Network meets tomorrow"


async def test_someone_who_never_opened_the_chat_cannot_be_written_to_first(
    teams: Teams, adapter: TeamsAdapter, connector: FakeConnector
) -> None:
    with pytest.raises(Undeliverable, match="never opened"):
        await adapter.send(chat=dm(BEN), reply=ReplyBuilder().para("Hi").build())
    assert connector.sent == []


async def test_refusals_become_the_outboxs_verdicts(
    teams: Teams, adapter: TeamsAdapter, connector: FakeConnector
) -> None:
    await teams.say("start")
    reply = ReplyBuilder().para("Hi").build()
    connector.fail_next(429, retry_after="7")
    with pytest.raises(RetryLater) as limited:
        await adapter.send(chat=dm(ADA), reply=reply)
    assert limited.value.seconds == 7
    connector.fail_next(503, retry_after="2")
    with pytest.raises(RetryLater) as unavailable:
        await adapter.send(chat=dm(ADA), reply=reply)
    assert unavailable.value.seconds == 2
    connector.fail_next(502)  # no Retry-After: a second
    with pytest.raises(RetryLater) as bad_gateway:
        await adapter.send(chat=dm(ADA), reply=reply)
    assert bad_gateway.value.seconds == 1
    for code in ("ConversationBlockedByUser", "BotNotInConversationRoster"):
        connector.fail_next(403, code=code)
        with pytest.raises(Blocked):
            await adapter.send(chat=dm(ADA), reply=reply)
    for code in ("BotDisabledByAdmin", "Forbidden"):  # not the person's doing
        connector.fail_next(403, code=code)
        with pytest.raises(Undeliverable):
            await adapter.send(chat=dm(ADA), reply=reply)
    connector.fail_next(404)
    with pytest.raises(Undeliverable):
        await adapter.send(chat=dm(ADA), reply=reply)
    await adapter.send(chat=dm(ADA), reply=reply)  # and then it goes
    with pytest.raises(Undeliverable):
        await adapter.send(
            chat=ChatRef("teams", "19:x@thread.tacv2", is_private=False), reply=reply
        )


async def test_a_429_storm_delays_the_reminder_by_retry_after_and_sends_it_once(
    teams: Teams, adapter: TeamsAdapter, connector: FakeConnector, sqlite_db: Database
) -> None:
    await teams.say("start")
    before = len(connector.sent)
    push_id = await remind(sqlite_db, ADA, "storm")
    connector.fail_next(429, times=5, retry_after="30")
    service = DeliveryService(sqlite_db, {"teams": adapter}, FAST)
    started = utcnow()
    await service.run_once()
    async with sqlite_db.read() as session:
        (waiting,) = (await session.scalars(select(Delivery))).all()
    assert waiting.status == outbox.PENDING
    assert waiting.next_attempt_at is not None
    assert waiting.next_attempt_at.replace(tzinfo=None) >= (
        started.replace(tzinfo=None) + timedelta(seconds=29)
    )  # Retry-After honoured, not the lanes' own backoff
    report = await settle(service, push_id)
    assert report.counts.get(outbox.SENT) == 1
    assert len(connector.sent) - before == 1  # once, after the storm


async def test_a_person_who_removed_the_app_is_marked_inactive(
    teams: Teams, adapter: TeamsAdapter, connector: FakeConnector, sqlite_db: Database
) -> None:
    await teams.say("start")
    # The Bot Connector refuses a push with 403 once the app is gone for her.
    push_id = await remind(sqlite_db, ADA, "gone")
    connector.fail_next(403, code="ConversationBlockedByUser")
    report = await settle(DeliveryService(sqlite_db, {"teams": adapter}, FAST), push_id)
    assert not report.counts.get(outbox.SENT)
    assert not (await identity(sqlite_db, ADA)).active
    # Reinstalling the app (Teams says so) makes her reachable again; removing it says so too.
    add = teams.activity(kind="installationUpdate", action="add")
    assert await teams.post(add) in (200, 202)
    assert (await identity(sqlite_db, ADA)).active
    remove = teams.activity(kind="installationUpdate", action="remove")
    assert await teams.post(remove) in (200, 202)
    assert not (await identity(sqlite_db, ADA)).active


async def test_a_403_the_person_did_not_cause_leaves_them_active(
    teams: Teams, adapter: TeamsAdapter, connector: FakeConnector, sqlite_db: Database
) -> None:
    await teams.say("start")
    # An admin disabled the bot for the tenant: Ada did not block it, and stays active.
    push_id = await remind(sqlite_db, ADA, "disabled")
    connector.fail_next(403, code="BotDisabledByAdmin")
    report = await settle(DeliveryService(sqlite_db, {"teams": adapter}, FAST), push_id)
    assert not report.counts.get(outbox.SENT)
    assert (await identity(sqlite_db, ADA)).active


async def test_a_5000_character_result_fits_teams_limits(
    teams: Teams, adapter: TeamsAdapter, connector: FakeConnector
) -> None:
    await teams.say("start")
    before = len(connector.sent)
    builder = ReplyBuilder().heading("Digest")
    for n in range(150):
        builder.para(bold(f"Item {n}: "), "x" * 40 + " & <more> **not bold** " + "y" * 40)
    builder.para("z" * 5000)
    await adapter.send(chat=dm(ADA), reply=builder.build())
    pushed = connector.sent[before:]
    assert len(pushed) >= 2  # more than one Teams message holds
    text = "".join(
        run["text"]
        for sent in pushed
        for card in sent.cards
        for element in card["body"]
        for run in element.get("inlines", [])
    )
    assert all(f"Item {n}: " in text for n in range(150))
    assert text.count("z") == 5000 and "& <more> **not bold**" in text
    assert all(len(str(sent.activity).encode()) < 2 * MAX_MESSAGE_BYTES for sent in pushed)

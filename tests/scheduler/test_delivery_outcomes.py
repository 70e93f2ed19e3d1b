"""What the outbox records about failures: possible repeats, and categories, not raw text.

A send that may have reached the platform before it failed is retried and counted among those
that may have arrived twice (issue 11, item 6). What is stored, and shown to admins in delivery
reports and notices, is a short category; the exception's own text stays in the log (item 7e).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from ccin_bridge.handlers import reply_codec
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.delivery_report import report_reply
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.replies import Reply, ReplyBuilder
from ccin_bridge.scheduler.chat_actions import ChatActionPolicy, ChatActionService
from ccin_bridge.scheduler.delivery import DeliveryPolicy, DeliveryService
from ccin_bridge.scheduler.outbound import MaybeSent, labelled
from ccin_bridge.store import chat_actions, outbox, people
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Delivery, Push, utcnow
from ccin_bridge.store.outbox import Target
from tests.conftest import Clock
from tests.handlers.groups_support import (
    ADMIN,
    ALEX_TG,
    OFFICERS_TG,
    FakeChatAdmin,
    make_bridge,
    say,
)

FAST = DeliveryPolicy(lanes=1, batch=10, poll_seconds=0.02, lease=timedelta(seconds=30))
# What a platform library's message may carry: a URL with the bot token, a server's answer.
RAW = "POST https://api.telegram.org/bot123456:AAEsecretTOKEN/sendMessage: <html>502</html>"


class Platform:
    """Records sends; fails a chat's next sends with the exceptions planned for it."""

    platform = "terminal"

    def __init__(self, fail: dict[str, list[Exception]]) -> None:
        self.sent: list[str] = []
        self.fail = fail

    async def send(self, *, chat: ChatRef, reply: Reply) -> None:
        planned = self.fail.get(chat.chat_id)
        if planned:
            raise planned.pop(0)
        self.sent.append(chat.chat_id)


async def _push(db: Database, chats: list[str], creator: int | None = None) -> int:
    async with db.session() as session:
        push_id = await outbox.create_push(
            session,
            kind="broadcast",
            payload=reply_codec.encode(ReplyBuilder().para("Hi").build()),
            targets=[Target("terminal", c) for c in chats],
            title="Test",
            created_by=creator,
        )
    assert push_id is not None
    return push_id


async def _settle(service: DeliveryService, push_id: int) -> outbox.PushReport:
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


async def test_sends_that_may_have_reached_the_platform_are_reported_in_doubt(
    db: Database,
) -> None:
    platform = Platform(
        {
            "c0": [MaybeSent("timed out waiting for the answer")],
            "c1": [TimeoutError()],  # a timeout no adapter placed: it may have gone out too
            "c2": [ConnectionRefusedError("refused")],  # never reached the platform
        }
    )
    push_id = await _push(db, ["c0", "c1", "c2", "c3"])
    report = await _settle(DeliveryService(db, {"terminal": platform}, FAST), push_id)
    assert sorted(platform.sent) == ["c0", "c1", "c2", "c3"]
    assert report.counts["sent"] == 4 and report.in_doubt == 2
    shown = report_reply(report).plain_text
    assert "4 sent" in shown and "2 may have arrived twice" in shown


async def test_a_send_in_doubt_that_then_fails_still_counts(db: Database) -> None:
    platform = Platform({"c0": [MaybeSent("timed out waiting for the answer")] * 2})
    push_id = await _push(db, ["c0"])
    policy = DeliveryPolicy(lanes=1, max_attempts=2)
    report = await _settle(DeliveryService(db, {"terminal": platform}, policy), push_id)
    assert report.counts["failed"] == 1 and report.in_doubt == 1
    assert report.errors == (
        ("terminal", "c0", "gave up after 2 attempts: timed out waiting for the answer"),
    )


@pytest.mark.parametrize(
    ("raised", "recorded"),
    [
        (RuntimeError(RAW), "unexpected error"),
        (ConnectionResetError(RAW), "network error"),
        (labelled(RuntimeError(RAW), "platform error 502"), "platform error 502"),
        (ValueError(RAW), "the bridge could not send this message"),
    ],
)
async def test_reports_show_a_category_and_the_log_keeps_the_details(
    db: Database,
    caplog: pytest.LogCaptureFixture,
    raised: Exception,
    recorded: str,
) -> None:
    async with db.session() as session:
        creator = (
            await people.touch_identity(
                session, platform="terminal", external_id="admin", display_name="Ada", username=None
            )
        ).id
    platform = Platform({"c0": [raised]})
    push_id = await _push(db, ["c0"], creator=creator)
    policy = DeliveryPolicy(lanes=1, max_attempts=1)
    service = DeliveryService(db, {"terminal": platform}, policy)
    with caplog.at_level(logging.INFO, logger="ccin_bridge.scheduler"):
        report = await _settle(service, push_id)
        await service.run_once()  # the delivery report goes to the admin who sent it
    [(_, _, error)] = report.errors
    assert error.endswith(recorded) and "secretTOKEN" not in error and "Error" not in error
    async with db.session() as session:
        payloads = list(await session.scalars(select(Push.payload).where(Push.kind == "report")))
    (shown,) = [reply_codec.decode(p).plain_text for p in payloads]
    assert recorded in shown and "secretTOKEN" not in shown and "html" not in shown
    assert any("secretTOKEN" in r.getMessage() for r in caplog.records)  # the details: log only


async def test_a_failed_chat_change_tells_admins_a_category_not_the_exception(
    settings: Settings, sqlite_db: Database, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    await say(bridge, ADMIN, "/help")  # the admin has an account to be told through
    async with sqlite_db.session() as session:
        alex, identity_id = await people.touch(
            session,
            platform="telegram",
            external_id=ALEX_TG.user_id,
            display_name="Alex",
            username=None,
        )
        await chat_actions.enqueue(
            session,
            kind=chat_actions.INVITE,
            person_id=alex.id,
            identity_id=identity_id,
            group_slug="officers",
            platform="telegram",
            chat_id=OFFICERS_TG,
        )
    chat_admin = FakeChatAdmin("telegram")
    chat_admin.fail_with = RuntimeError(RAW)
    service = ChatActionService(
        sqlite_db,
        {"telegram": chat_admin},
        ChatActionPolicy(max_attempts=1),
        settings=bridge.settings,
    )
    with caplog.at_level(logging.INFO, logger="ccin_bridge.scheduler"):
        assert await service.run_once() == 1
    async with sqlite_db.session() as session:
        payloads = list(await session.scalars(select(Push.payload).where(Push.kind == "admin")))
    (notice,) = [reply_codec.decode(p).plain_text for p in payloads]
    assert "Could not invite someone" in notice and "unexpected error" in notice
    assert "secretTOKEN" not in notice and "RuntimeError" not in notice
    assert any("secretTOKEN" in r.getMessage() for r in caplog.records)


async def test_a_push_settled_by_expiry_sends_its_report(db: Database) -> None:
    # One chat on a platform this process runs, one on a platform that never came up: when
    # the second delivery expires, the push has settled and its sender is owed the report.
    async with db.session() as session:
        creator = (
            await people.touch_identity(
                session, platform="terminal", external_id="admin", display_name="Ada", username=None
            )
        ).id
        push_id = await outbox.create_push(
            session,
            kind="broadcast",
            payload=reply_codec.encode(ReplyBuilder().para("Hi").build()),
            targets=[Target("terminal", "c0"), Target("elsewhere", "c1")],
            title="Test",
            created_by=creator,
        )
    platform = Platform({})
    service = DeliveryService(db, {"terminal": platform}, FAST)
    await service.run_once()
    assert platform.sent == ["c0"]
    async with db.session() as session:
        await session.execute(
            update(Push).where(Push.id == push_id).values(created_at=utcnow() - timedelta(days=4))
        )
    await service.start()  # expires what waits for a platform not running for days
    try:
        async with asyncio.timeout(20):
            await service.drain()
    finally:
        await service.stop()
    async with db.session() as session:
        (payload,) = await session.scalars(select(Push.payload).where(Push.kind == "report"))
    shown = reply_codec.decode(payload).plain_text
    assert shown.startswith("Delivery report: Test") and "• 1 failed" in shown
    assert "elsewhere c1: expired" in shown
    assert platform.sent == ["c0", "admin"]  # and it reached the sender

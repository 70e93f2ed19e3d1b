"""A send Telegram may have carried out without the bridge hearing so is a possible repeat.

The fake does what `sendMessage` asks at once but answers after the bot's read timeout, as a
slow Telegram does: PTB raises `TimedOut`, the person has the message anyway, and the lane
sends it again. That second copy must be in the delivery report (issue 11, item 6), while a
request that never got through (a refused connection) is retried without any doubt.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update
from telegram.error import NetworkError, TelegramError, TimedOut

from ccin_bridge.bots.telegram.adapter import TelegramBot
from ccin_bridge.bots.telegram.errors import delivery_errors
from ccin_bridge.handlers import reply_codec
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.replies import text
from ccin_bridge.scheduler.delivery import DeliveryPolicy, DeliveryService
from ccin_bridge.scheduler.outbound import MaybeSent, describe
from ccin_bridge.store import outbox, people
from ccin_bridge.store.models import Delivery, utcnow
from ccin_bridge.store.outbox import Target
from tests.bots.telegram.conftest import ALICE, BOB
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI, TgUser

READ_TIMEOUT = 0.5
SLOW = 4 * READ_TIMEOUT  # Telegram answers long after the bot stopped waiting
ERIN = TgUser(1005, "Erin", "Example", username="erin")


@pytest.fixture
async def impatient(fake_api: FakeTelegramAPI, tg_bridge: Bridge) -> AsyncIterator[TelegramBot]:
    """The real adapter with a short read timeout; only sending, no updates."""
    bot = TelegramBot(
        tg_bridge,
        token=TOKEN,
        base_url=fake_api.base_url,
        connect_timeout=2,
        read_timeout=READ_TIMEOUT,
    )
    await bot.application.initialize()
    try:
        yield bot
    finally:
        await bot.application.shutdown()


async def test_a_read_timeout_after_sending_may_have_been_sent(
    fake_api: FakeTelegramAPI, impatient: TelegramBot
) -> None:
    fake_api.add_chat(ALICE.private_chat)
    fake_api.slow("sendMessage", SLOW)
    with pytest.raises(MaybeSent) as caught:
        await impatient.send(chat=ChatRef("telegram", str(ALICE.id)), reply=text("Hello"))
    assert isinstance(caught.value.__cause__, TimedOut)
    assert [m.text for m in fake_api.sent_to(ALICE.id)] == ["Hello"]  # Telegram has it anyway


async def test_a_refused_connection_never_reached_telegram(tg_bridge: Bridge) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    bot = TelegramBot(tg_bridge, token=TOKEN, base_url=f"http://127.0.0.1:{port}/bot")
    try:
        with pytest.raises(NetworkError) as caught:
            await bot.send(chat=ChatRef("telegram", str(ALICE.id)), reply=text("Hello"))
    finally:
        await bot.application.shutdown()
    assert not isinstance(caught.value, MaybeSent)
    assert describe(caught.value) == "network error"


def _raise(exc: Exception, cause: BaseException | None) -> Callable[[], None]:
    def go() -> None:
        with delivery_errors():
            raise exc from cause

    return go


@pytest.mark.parametrize(
    ("raised", "cause", "maybe_sent", "category"),
    [
        (TimedOut(), httpx.ReadTimeout("read"), True, "timed out waiting for Telegram's answer"),
        (TimedOut(), httpx.ConnectTimeout("connect"), False, "timed out connecting to Telegram"),
        (TimedOut(), httpx.PoolTimeout("pool"), False, "timed out connecting to Telegram"),
        (
            NetworkError("httpx.RemoteProtocolError: Server disconnected"),
            httpx.RemoteProtocolError("Server disconnected"),
            True,
            "connection lost before Telegram answered",
        ),
        (NetworkError("httpx.ConnectError: refused"), httpx.ConnectError("no"), False, None),
        (NetworkError("Bad Gateway"), None, False, "platform error 502"),
        (NetworkError("Internal Server Error (500)"), None, False, "platform error 500"),
        (
            TelegramError("Invalid server response"),
            ValueError("Expecting value"),
            True,
            "Telegram's answer could not be read",
        ),
    ],
)
def test_which_failures_may_have_reached_telegram(
    raised: Exception, cause: BaseException | None, maybe_sent: bool, category: str | None
) -> None:
    """PTB's exceptions, shaped as its HTTPX layer raises them (the cause says what failed)."""
    with pytest.raises((MaybeSent, TelegramError)) as caught:
        _raise(raised, cause)()
    assert isinstance(caught.value, MaybeSent) is maybe_sent
    if not maybe_sent:
        assert caught.value is raised  # the outbox still sees PTB's own, transient, error
    assert describe(caught.value) == (category or "network error")


async def test_the_report_says_a_send_that_timed_out_may_have_arrived_twice(
    fake_api: FakeTelegramAPI, impatient: TelegramBot, tg_bridge: Bridge
) -> None:
    db = tg_bridge.db
    targets = []
    async with db.session() as session:
        for user in (ALICE, BOB, ERIN):
            fake_api.add_chat(user.private_chat)
            person, identity_id = await people.touch(
                session,
                platform="telegram",
                external_id=str(user.id),
                display_name=user.first_name,
                username=user.username,
            )
            targets.append(Target("telegram", str(user.id), identity_id))
            if user is ALICE:
                creator = person.id
        push_id = await outbox.create_push(
            session,
            kind="broadcast",
            payload=reply_codec.encode(text("The network's news")),
            targets=targets,
            title="Network news",
            created_by=creator,
        )
    assert push_id is not None
    fake_api.slow("sendMessage", SLOW)  # Alice's: Telegram shows it, the bot hears nothing
    service = DeliveryService(db, {"telegram": impatient}, DeliveryPolicy(lanes=1))
    for _ in range(3):  # the first round, the retry (made due at once), then the report
        await service.run_once()
        async with db.session() as session:
            await session.execute(
                update(Delivery)
                .where(Delivery.status == outbox.PENDING)
                .values(next_attempt_at=utcnow() - timedelta(hours=1))
            )
    async with db.session() as session:
        report = await outbox.report(session, push_id)
    assert report is not None and report.counts["sent"] == 3 and report.in_doubt == 1
    to_alice = [m.text for m in fake_api.sent_to(ALICE.id)]
    assert to_alice[:2] == ["The network's news", "The network's news"]  # the repeat
    assert [m.text for m in fake_api.sent_to(BOB.id)] == ["The network's news"]
    (told,) = [t for t in to_alice if t.startswith("Delivery report")]
    assert "3 sent" in told and "1 may have arrived twice" in told

"""The bot as the outbox's `Outbound`: Telegram's answers become delivery outcomes.

403 is `Blocked` (never retried), 429 is waited out by the rate limiter and then becomes
`RetryLater`, 400 is `Undeliverable`, a network failure stays transient. The last test runs
the real delivery lanes over the real outbox, so the outcome lands where people see it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from telegram.error import NetworkError

from ccin_bridge.bots.telegram.adapter import MAX_RETRIES
from ccin_bridge.handlers import reply_codec
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.replies import Reply, text
from ccin_bridge.scheduler.delivery import DeliveryPolicy, DeliveryService
from ccin_bridge.scheduler.outbound import Blocked, DeliveryError, RetryLater, Undeliverable
from ccin_bridge.store import outbox, people
from ccin_bridge.store.models import Identity
from ccin_bridge.store.outbox import Target
from tests.bots.telegram.conftest import ALICE, BOB, GROUP, Harness

GROUP_REF = ChatRef("telegram", str(GROUP.id), is_private=False)


async def test_a_reply_reaches_a_group_and_a_person(telegram: Harness) -> None:
    telegram.api.add_chat(GROUP)
    telegram.api.add_chat(ALICE.private_chat)
    await telegram.bot.send(chat=GROUP_REF, reply=text("Hi <all> & 🙂"))
    await telegram.bot.send(chat=ChatRef("telegram", str(ALICE.id)), reply=text("Hello"))
    assert [m.text for m in telegram.api.sent_to(GROUP.id)] == ["Hi <all> & 🙂"]
    assert [m.text for m in telegram.api.sent_to(ALICE.id)] == ["Hello"]


async def test_a_person_who_blocked_the_bot_is_blocked_not_retried(telegram: Harness) -> None:
    telegram.api.block(BOB.id)
    with pytest.raises(Blocked, match="blocked by the user"):
        await telegram.bot.send(chat=ChatRef("telegram", str(BOB.id)), reply=text("Hello"))
    assert len(telegram.api.calls_to("sendMessage")) == 1


async def test_a_bot_removed_from_a_group_is_blocked_too(telegram: Harness) -> None:
    telegram.api.fail("sendMessage", 403, "Forbidden: bot was kicked from the supergroup chat")
    with pytest.raises(Blocked, match="kicked"):
        await telegram.bot.send(chat=GROUP_REF, reply=text("Hello"))


@pytest.mark.slow  # waits out real timeouts and retries
async def test_429_is_waited_out_and_sent_once(telegram: Harness) -> None:
    telegram.api.add_chat(GROUP)
    telegram.api.rate_limit(2, retry_after=1)
    await telegram.bot.send(chat=GROUP_REF, reply=text("Eventually"))
    assert [c.status for c in telegram.api.calls_to("sendMessage")] == [429, 429, 200]
    assert [m.text for m in telegram.api.sent_to(GROUP.id)] == ["Eventually"]


@pytest.mark.slow  # waits out real timeouts and retries
async def test_429_that_outlasts_the_retries_asks_the_outbox_to_come_back(
    telegram: Harness,
) -> None:
    telegram.api.add_chat(GROUP)
    telegram.api.rate_limit(MAX_RETRIES + 1, retry_after=1)
    with pytest.raises(RetryLater) as caught:
        await telegram.bot.send(chat=GROUP_REF, reply=text("Later"))
    assert caught.value.seconds == 1
    assert [c.status for c in telegram.api.calls_to("sendMessage")] == [429] * (MAX_RETRIES + 1)
    assert telegram.api.sent == []


async def test_chat_not_found_is_undeliverable(telegram: Harness) -> None:
    telegram.api.fail("sendMessage", 400, "Bad Request: chat not found")
    with pytest.raises(Undeliverable, match=r"(?i)chat not found"):
        await telegram.bot.send(chat=GROUP_REF, reply=text("Anyone?"))


async def test_a_network_failure_stays_transient(telegram: Harness) -> None:
    telegram.api.fail("sendMessage", 502, "Bad Gateway")
    with pytest.raises(NetworkError) as caught:
        await telegram.bot.send(chat=GROUP_REF, reply=text("Anyone?"))
    assert not isinstance(caught.value, DeliveryError)  # the outbox retries it with backoff


async def test_a_private_reply_never_goes_to_a_group(telegram: Harness) -> None:
    with pytest.raises(ValueError, match="private reply"):
        await telegram.bot.send(chat=GROUP_REF, reply=Reply((), private=True))
    assert telegram.api.calls_to("sendMessage") == []


async def test_the_delivery_lanes_record_sent_and_blocked_and_deactivate_the_blocker(
    telegram: Harness,
) -> None:
    api, bridge = telegram.api, telegram.bot.bridge
    await telegram.say(ALICE, "/start")
    api.block(BOB.id)
    async with bridge.db.session() as session:
        targets = []
        for user in (ALICE, BOB):
            _, identity_id = await people.touch(
                session,
                platform="telegram",
                external_id=str(user.id),
                display_name=user.first_name,
                username=user.username,
            )
            targets.append(Target("telegram", str(user.id), identity_id))
        push_id = await outbox.create_push(
            session,
            kind="announcement",
            payload=reply_codec.encode(text("The network's <news> & more")),
            targets=targets,
            title="News",
        )
    assert push_id is not None
    service = DeliveryService(bridge.db, {"telegram": telegram.bot}, DeliveryPolicy(lanes=1))
    assert await service.run_once() == 2
    async with bridge.db.session() as session:
        report = await outbox.report(session, push_id)
        bob = await session.scalar(select(Identity).where(Identity.external_id == str(BOB.id)))
    assert report is not None
    assert {k: n for k, n in report.counts.items() if n} == {"sent": 1, "blocked": 1}
    assert bob is not None and bob.active is False
    assert [m.text for m in api.sent_to(ALICE.id)][-1] == "The network's <news> & more"
    assert len(api.calls_to("sendMessage")) == 3  # /start's answer, Alice's, Bob's one try

"""/broadcast and /deliveries through the Bridge, delivered by the real delivery lanes."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import func, select

from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.requests import Request
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import AuditEntry, Push
from tests.conftest import Clock
from tests.handlers.push_support import (
    ADA,
    ALEX,
    SAM,
    actions,
    deliver,
    press,
    push_bridge,
    say,
    says,
)

MESSAGE = "The Officer Network meets online next Tuesday; bring one question from your council."


async def _readers(bridge: Bridge) -> None:
    await say(bridge, ADA, "/start")
    await say(bridge, ALEX, "/subscribe digest:officers")
    await say(bridge, ALEX, "/subscribe announcements")
    await say(bridge, SAM, "/subscribe digest:leaders")
    await say(bridge, SAM, "/subscribe announcements")


async def _pushes(bridge: Bridge) -> int:
    async with bridge.db.session() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(Push).where(Push.kind == "broadcast")
            )
            or 0
        )


async def test_guided_flow_audience_text_preview_send_and_report(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    await _readers(bridge)
    first = await say(bridge, ADA, "/broadcast")
    assert "Who should get this broadcast?" in says(first)
    assert "broadcast officers" in actions(first) and "broadcast everyone" in actions(first)
    assert "Send me the text" in says(await press(bridge, ADA, "broadcast officers"))
    preview = await say(bridge, ADA, MESSAGE)
    assert "Preview: broadcast to Officers" in says(preview) and MESSAGE in says(preview)
    assert "It would go to 1 chat" in says(preview)
    assert actions(preview) == ["broadcast --confirm", "cancel"]
    assert await _pushes(bridge) == 0  # nothing is queued before Send
    queued = await press(bridge, ADA, "broadcast --confirm")
    assert "Queued broadcast #" in says(queued)
    assert "already" in says(await press(bridge, ADA, "broadcast --confirm"))  # a second press
    assert await _pushes(bridge) == 1
    sent = await deliver(bridge.db)
    [got] = sent.to("alex")
    assert MESSAGE in got.plain_text and "Announcement for Officers" in got.plain_text
    assert sent.to("sam") == []
    [report] = sent.to("ada")
    assert report.plain_text.startswith("Delivery report") and "1 sent" in report.plain_text
    push_id = actions(queued)[0].split()[-1]
    full = says(await say(bridge, ADA, f"/deliveries {push_id}"))
    assert f"Delivery report #{push_id}" in full and "1 sent" in full
    async with bridge.db.session() as session:
        audit = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "broadcast.send")
        )
    assert audit is not None and audit.detail["audience"] == "officers"


async def test_cancel_sends_nothing(settings: Settings, sqlite_db: Database, clock: Clock) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    await _readers(bridge)
    await say(bridge, ADA, f"/broadcast everyone {MESSAGE}")
    assert "Cancelled" in says(await press(bridge, ADA, "cancel"))
    assert "no broadcast waiting" in says(await press(bridge, ADA, "broadcast --confirm"))
    assert await _pushes(bridge) == 0


async def test_direct_send_to_everyone_skips_announcement_opt_outs(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    await _readers(bridge)
    await say(bridge, SAM, "/unsubscribe announcements")
    reply = says(await say(bridge, ADA, f"/broadcast everyone --send {MESSAGE}"))
    assert "to 1 chat." in reply
    sent = await deliver(bridge.db)
    [got] = sent.to("alex")
    assert got.plain_text.count(MESSAGE) == 1
    assert sent.to("sam") == []


async def test_broadcasts_are_for_admins_and_bad_input_is_explained(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    assert "for network admins only" in says(
        await say(bridge, ALEX, f"/broadcast officers {MESSAGE}")
    )
    assert "for network admins only" in says(await say(bridge, ALEX, "/deliveries"))
    assert "no audience called “pets”" in says(await say(bridge, ADA, "/broadcast pets hello"))
    await say(bridge, ADA, "/broadcast")
    wrong = says(await say(bridge, ADA, "the cats"))
    assert "no audience called" in wrong and "Who should get this broadcast?" in wrong
    assert "There is no push #999" in says(await say(bridge, ADA, "/deliveries 999"))
    in_group = Request(ADA, ChatRef("terminal", "group-1", is_private=False), "broadcast", "")
    assert "in a private chat" in says(await bridge.handle(in_group))
    direct = replace(in_group, args=f"officers {MESSAGE}")
    [preview] = await bridge.handle(direct)
    assert preview.private and "Preview: broadcast to Officers" in preview.plain_text
    assert "Nothing has been sent yet" in says(await say(bridge, ADA, "/deliveries"))
    assert await _pushes(bridge) == 0


async def test_a_broadcast_nobody_can_receive_says_so_instead_of_promising_a_report(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    await say(bridge, ADA, "/start")
    answer = says(await say(bridge, ADA, f"/broadcast champions --send {MESSAGE}"))
    assert "nobody is subscribed to Co-operative Champions yet" in answer
    assert "delivery report" not in answer

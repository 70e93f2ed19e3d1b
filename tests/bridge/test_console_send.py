"""The console's sending pages over real HTTP: a broadcast composed in the flow's form, its
preview as Telegram and Slack will draw it, sent with the preview's own button; its delivery
report filling in as the real delivery lanes send; the Deliveries list linking each report;
and the coming digest previewed per audience and sent early, on a yes, with its audit entry."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import aiohttp
from sqlalchemy import Engine, event, select, update

from ccin_bridge.handlers import console_send
from ccin_bridge.handlers.identity import ChatRef, UserRef
from ccin_bridge.handlers.replies import Reply
from ccin_bridge.scheduler.delivery import DeliveryService
from ccin_bridge.scheduler.outbound import Blocked
from ccin_bridge.store import people
from ccin_bridge.store.models import AuditEntry, Delivery, Push
from tests.bridge.console_support import Site, browser, csrf_of, signed_in
from tests.handlers.groups_support import ADMIN, ALEX_TG, approve_all, join_officers, say
from tests.handlers.push_support import FAST

SAM_TG = UserRef("telegram", "700654321", display_name="Sam Sample", username="samsample")
SEND_FORM = re.compile(
    r'<form method="post" action="broadcast-send"[^>]*>\s*<input type="hidden" name="csrf" '
    r'value="[^"]+">\s*<input type="hidden" name="payload" value="([^"]+)">\s*'
    r'<button type="submit" class="button (primary|secondary)">(Send|Cancel)</button>'
)


class Telegram:
    """The Telegram side of the outbox: records each chat sent to, refuses the `blocked`."""

    platform = "telegram"

    def __init__(self) -> None:
        self.sent: list[tuple[str, Reply]] = []
        self.blocked: set[str] = set()

    async def send(self, *, chat: ChatRef, reply: Reply) -> None:
        if chat.chat_id in self.blocked:
            raise Blocked("Forbidden: bot was blocked by the user")
        self.sent.append((chat.chat_id, reply))


async def deliver(site: Site, telegram: Telegram) -> None:
    """The real delivery lanes, until the outbox is drained."""
    service = DeliveryService(site.db, {"telegram": telegram}, FAST)
    await service.start()
    try:
        async with asyncio.timeout(20):
            await service.drain()
    finally:
        await service.stop()


async def members(site: Site) -> None:
    """Alex and Sam in the Officer Network: both take its digest and announcements."""
    for person in (ALEX_TG, SAM_TG):
        await join_officers(site.bridge, person)
    await approve_all(site.bridge)


def buttons(page: str) -> dict[str, str]:
    return {label: payload for payload, _, label in SEND_FORM.findall(page)}


async def get(client: aiohttp.ClientSession, url: str, status: int = 200) -> str:
    async with client.get(url, allow_redirects=False) as answer:
        body = await answer.text()
        assert answer.status == status, body
        return body


async def test_a_broadcast_is_previewed_as_each_platform_shows_it_and_its_report_fills(
    site: Site,
) -> None:
    await members(site)
    telegram = Telegram()
    await deliver(site, telegram)  # what joining queued (welcomes, cards) is out of the way
    telegram.blocked.add(SAM_TG.user_id)  # since then, Sam has blocked the bot
    async with browser() as client:
        await signed_in(client, site)
        csrf = await csrf_of(client, site.url + "broadcast")
        async with client.post(site.url + "broadcast", data={"csrf": csrf}) as empty:
            assert empty.status == 400
            page = await empty.text()
        assert "There is a problem" in page
        assert page.count('class="error-message"') == 2  # audience and message, each named
        message = (
            "The Officer Network meets on *Tuesday*: https://example.org/meet_up\n\n"
            "Bring a colleague <b>too</b> & <script>alert(1)</script>."
        )
        async with client.post(
            site.url + "broadcast", data={"csrf": csrf, "audience": "officers", "text": message}
        ) as previewed:
            assert previewed.status == 200
            page = await previewed.text()
        assert "It would go to 2 chats." in page
        # Each platform as its adapter draws it, the bare address linked as both link it.
        telegram_part = page.split('class="platform-preview preview-telegram"')[1]
        slack_part = page.split('class="platform-preview preview-slack"')[1]
        telegram_part = telegram_part.split('class="platform-preview')[0]
        link = '<a href="https://example.org/meet_up" rel="noreferrer">'
        assert link in telegram_part and link in slack_part
        assert "*Tuesday*" in telegram_part  # Telegram shows the stars as typed
        assert "<strong>Tuesday</strong>" in slack_part  # Slack's mrkdwn makes them bold
        assert '<p class="preview-header">Announcement for Officers</p>' in slack_part
        assert '<span class="preview-button">Stop announcements</span>' in telegram_part
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<script>alert" not in page and "<b>too" not in page  # escaped, never markup
        assert "gets it as" not in page  # one message on each
        send = buttons(page)
        assert set(send) == {"Send", "Cancel"}

        async with client.post(
            site.url + "broadcast-send",
            data={"csrf": csrf, "payload": send["Send"]},
            allow_redirects=False,
        ) as sent:
            assert sent.status == 303
            location = sent.headers["Location"]
        push_id = int(location.removeprefix("delivery?push="))
        report = await get(client, site.url + location)
        assert f"Delivery report #{push_id}" in report
        assert "Still going out: 0 of 2 settled, 2 waiting." in report
        assert "Alex Example (@alexexample)" in report and "Sam Sample (@samsample)" in report
        assert report.count("<td>waiting</td>") == 2
        assert '<script src="static/console-live.js" defer></script>' in report
        assert f'<a href="delivery?push={push_id}">Refresh</a>' in report  # works without JS
        # Refresh sits outside the part the script replaces (focus on it is never dropped),
        # and only the end is announced: the summary seen is no live region, the one that
        # is starts empty.
        replaced = report.split('<div id="report"')[1].split("All deliveries")[0]
        assert "Refresh" not in replaced and "Refresh" in report.split('<div id="report"')[0]
        assert '<p id="report-summary" class="report-summary">Still going out' in report
        assert report.count('role="status"') == 1
        assert '<p id="report-announce" class="visually-hidden" role="status"></p>' in report
        live = await get(client, site.url + f"delivery-live?push={push_id}")
        assert 'data-finished="false"' in live and "<html" not in live
        assert "Refresh" not in live

        await deliver(site, telegram)
        live = await get(client, site.url + f"delivery-live?push={push_id}")
        assert 'data-finished="true"' in live
        assert 'data-summary="It has all gone out: 1 sent, 0 failed, 1 blocked the bot."' in live
        assert '<tr class="status-sent">\n    <td>Alex Example (@alexexample)</td>' in live
        assert '<tr class="status-blocked">\n    <td>Sam Sample (@samsample)</td>' in live
        assert "Refresh" not in live
        report = await get(client, site.url + location)
        assert "console-live.js" not in report  # nothing left to wait for

        listed = await get(client, site.url + "deliveries")
        assert f'<a href="delivery?push={push_id}">#{push_id} Broadcast to Officers' in listed

        # Send again on the same preview: the flow has nothing left to send.
        async with client.post(
            site.url + "broadcast-send", data={"csrf": csrf, "payload": send["Send"]}
        ) as again:
            assert "no broadcast waiting" in await again.text()
    assert [r.plain_text.splitlines()[0] for c, r in telegram.sent if c == ALEX_TG.user_id][
        -1
    ] == "Announcement for Officers"
    async with site.db.read() as session:
        pushes = list(await session.scalars(select(Push).where(Push.kind == "broadcast")))
        admin = await people.find_person(session, "telegram", ADMIN.user_id)
        audited = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "broadcast.send"))
        )
    assert admin is not None
    assert [(p.id, p.audience, p.created_by) for p in pushes] == [(push_id, "officers", admin.id)]
    assert [(a.actor_id, a.detail["push_id"]) for a in audited] == [(admin.id, push_id)]


async def test_cancel_sends_nothing_and_reports_are_only_for_the_signed_in(site: Site) -> None:
    await members(site)
    async with browser() as client:
        await signed_in(client, site)
        csrf = await csrf_of(client, site.url + "broadcast")
        async with client.post(
            site.url + "broadcast",
            data={"csrf": csrf, "audience": "everyone", "text": "Hello, everyone."},
        ) as previewed:
            page = await previewed.text()
        # Sixty short paragraphs: more blocks than one Slack message takes, one Telegram one.
        many = "\n\n".join(f"Point {n}." for n in range(60))
        async with client.post(
            site.url + "broadcast", data={"csrf": csrf, "audience": "everyone", "text": many}
        ) as previewed:
            page = await previewed.text()
        assert page.count("Too long for one message there") == 1
        assert "Slack gets it as 2 messages." in page
        async with client.post(
            site.url + "broadcast-send", data={"csrf": csrf, "payload": buttons(page)["Cancel"]}
        ) as cancelled:
            assert cancelled.status == 200
            page = await cancelled.text()
        assert "Outcome" in page and "preview-telegram" not in page
        async with client.post(
            site.url + "broadcast-send", data={"payload": "x"}, allow_redirects=False
        ) as forged:
            assert forged.status == 403  # no CSRF token
        assert "There is no push with that number" in await get(
            client, site.url + "delivery?push=999", 404
        )
        await get(client, site.url + "delivery?push=1x", 404)
        await get(client, site.url + "delivery-live?push=999", 404)
        async with site.db.read() as session:
            code = await session.scalar(select(Push.id).where(Push.kind == "sign_in_code"))
        assert code is not None  # the code this client signed in with went out as a push
        await get(client, site.url + f"delivery?push={code}", 404)  # nobody's report to read
        await get(client, site.url + f"delivery-live?push={code}", 404)
        async with client.get(site.url + "static/console-live.js") as script:
            assert script.content_type == "text/javascript"
            assert "data-live-part" in await script.text()
            assert "script-src 'self'" in script.headers["Content-Security-Policy"]
    async with site.db.read() as session:
        assert list(await session.scalars(select(Push).where(Push.kind == "broadcast"))) == []
    async with browser() as stranger:
        await get(stranger, site.url + "delivery-live?push=1", 401)
        assert (await get(stranger, site.url + "delivery?push=1", 303)) == ""
        await get(stranger, site.url + "digest", 303)


async def test_the_coming_digest_is_previewed_per_audience_and_sent_early_on_a_yes(
    site: Site,
) -> None:
    await members(site)
    async with browser() as client:
        await signed_in(client, site)
        page = await get(client, site.url + "digest")
        assert '<option value="officers">Officers</option>' in page
        assert "The coming edition" not in page
        page = await get(client, site.url + "digest?audience=officers")
        assert "Preview: the December 2026 digest for Officers" in page
        assert "to 2 subscribed chats" in page
        assert "preview-telegram" in page and "preview-slack" in page
        slack = page.split("platform-preview preview-slack")[1]
        assert '<p class="preview-header">December 2026 digest for Officers</p>' in slack
        assert "Send it early" in page
        assert 'action="press"' not in page  # the digest's own buttons are for its readers
        refused = await get(client, site.url + "digest?audience=pets")
        assert "no audience called" in refused and "Send it early" not in refused

        csrf = await csrf_of(client, site.url + "digest")
        async with client.post(
            site.url + "digest", data={"csrf": csrf, "audience": "officers", "step": "confirm"}
        ) as asked:
            page = await asked.text()
        assert "Send the digest early?" in page and "Yes, send it now" in page
        async with site.db.read() as session:  # asking sent nothing
            assert list(await session.scalars(select(Push).where(Push.kind == "digest"))) == []
        async with client.post(
            site.url + "digest",
            data={"csrf": csrf, "audience": "officers", "step": "send"},
            allow_redirects=False,
        ) as sent:
            assert sent.status == 303
            location = sent.headers["Location"]
        report = await get(client, site.url + location)
        assert "December 2026 digest for Officers" in report and "2 waiting" in report
        page = await get(client, site.url + "digest?audience=officers")
        assert "was already sent early" in page and "Send it early" not in page
        async with client.post(
            site.url + "digest", data={"csrf": csrf, "audience": "officers", "step": "send"}
        ) as again:
            assert "was sent already; nothing was queued" in await again.text()
    async with site.db.read() as session:
        (push,) = await session.scalars(select(Push).where(Push.kind == "digest"))
        (entry,) = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "digest.send_early")
        )
    assert location == f"delivery?push={push.id}"
    assert entry.detail == {
        "push_id": push.id,
        "audience": "officers",
        "edition": "2026-12",
        "recipients": 2,
    }


async def test_the_same_early_send_from_chat_is_audited_too(site: Site) -> None:
    await members(site)
    await say(site.bridge, ADMIN, "/digest send officers")
    async with site.db.read() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert actions.count("digest.send_early") == 1


async def test_an_audience_that_cleans_to_nothing_sends_no_digest(site: Site) -> None:
    """Only a configured audience is taken: an invisible character, which the command line
    would clean away to a bare `/digest send`, queues nothing and asks for no yes."""
    await members(site)
    async with browser() as client:
        await signed_in(client, site)
        csrf = await csrf_of(client, site.url + "digest")
        for given in ("\u200b", "\ufeff", "\u2060", "\x01", "all", "Officers "):
            page = await get(client, site.url + f"digest?audience={quote(given)}")
            assert "The coming edition" not in page and "Send it early" not in page
            for step in ("confirm", "send"):
                async with client.post(
                    site.url + "digest",
                    data={"csrf": csrf, "audience": given, "step": step},
                    allow_redirects=False,
                ) as posted:
                    assert posted.status == 200
                    page = await posted.text()
                assert "Send the digest early?" not in page and "Queued" not in page
        assert "There is no audience called “Officers”. Choose one from the list." in page
    async with site.db.read() as session:
        assert list(await session.scalars(select(Push).where(Push.kind == "digest"))) == []
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert "digest.send_early" not in actions


async def test_the_live_report_does_not_keep_an_idle_session_alive(site: Site) -> None:
    """The script's polling is not the admin's use: the idle sign-out still comes."""
    await members(site)
    await say(site.bridge, ADMIN, "/digest send officers")  # never delivered: still going out
    async with site.db.read() as session:
        push_id = await session.scalar(select(Push.id).where(Push.kind == "digest"))
    assert push_id is not None
    live = site.url + f"delivery-live?push={push_id}"
    async with browser() as client:
        await signed_in(client, site)
        assert 'data-finished="false"' in await get(client, site.url + f"delivery?push={push_id}")
        for _ in range(11):  # polled for 110 minutes, the admin away
            site.clock.now += timedelta(minutes=10)
            await get(client, live)
        site.clock.now += timedelta(minutes=11)  # 121 minutes since they last used a page
        await get(client, live, 401)
        await get(client, site.url + "deliveries", 303)


async def test_the_recipients_listed_show_what_went_wrong_first(site: Site) -> None:
    """Beyond the rows a report lists, failures would be unseen: they come first."""
    await members(site)
    telegram = Telegram()
    await deliver(site, telegram)  # joining's own messages out of the way
    await say(site.bridge, ADMIN, "/digest send officers")
    async with site.db.read() as session:
        push_id = await session.scalar(select(Push.id).where(Push.kind == "digest"))
        queued = list(
            await session.scalars(
                select(Delivery.chat_id).where(Delivery.push_id == push_id).order_by(Delivery.id)
            )
        )
    assert push_id is not None and len(queued) == 2
    telegram.blocked.add(queued[-1])  # the last queued blocked the bot
    await deliver(site, telegram)
    settings = site.bridge.settings
    status = await console_send.push_status(site.db, settings, push_id, limit=1)
    assert status is not None and status.unlisted == 1
    assert [r.status for r in status.rows] == ["blocked"]
    async with site.db.session() as session:  # now the last sent, but perhaps twice
        await session.execute(
            update(Delivery)
            .where(Delivery.push_id == push_id, Delivery.chat_id == queued[-1])
            .values(status="sent", in_doubt=True)
        )
    status = await console_send.push_status(site.db, settings, push_id, limit=1)
    assert status is not None and [(r.status, r.in_doubt) for r in status.rows] == [("sent", True)]
    full = await console_send.push_status(site.db, settings, push_id)
    assert full is not None and [r.in_doubt for r in full.rows] == [True, False]


async def test_the_deliveries_list_counts_every_push_in_one_grouped_query(site: Site) -> None:
    await members(site)
    telegram = Telegram()
    await deliver(site, telegram)
    await say(site.bridge, ADMIN, "/digest send officers")
    telegram.blocked.add(SAM_TG.user_id)
    await deliver(site, telegram)
    await say(site.bridge, ADMIN, "/digest send all")  # the other audiences': still waiting
    async with site.db.session() as session:  # one of the officers' perhaps sent twice
        await session.execute(
            update(Delivery).where(Delivery.chat_id == ALEX_TG.user_id).values(in_doubt=True)
        )
    settings = site.bridge.settings
    with counting() as statements:
        listed = await console_send.recent(site.db, settings)
    assert len(listed) >= 3
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 2
    # The same counts as each push's own report.
    for push in listed:
        own = await console_send.push_status(site.db, settings, push.push_id)
        assert own is not None
        assert (push.tally, push.total, push.finished) == (own.tally, own.total, own.finished)
    officers = next(p for p in listed if p.audience == "officers")
    assert (officers.tally.sent, officers.tally.blocked, officers.tally.in_doubt) == (1, 1, 1)
    async with browser() as client:
        await signed_in(client, site)
        page = await get(client, site.url + "deliveries")
    assert f"#{officers.push_id} " in page


@contextmanager
def counting() -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", count)


async def test_a_revoked_admin_can_neither_watch_a_report_nor_send(site: Site) -> None:
    await members(site)
    await say(site.bridge, ADMIN, "/digest send officers")
    async with site.db.read() as session:
        push_id = await session.scalar(select(Push.id).where(Push.kind == "digest"))
    assert push_id is not None
    async with browser() as client:
        await signed_in(client, site)
        await get(client, site.url + f"delivery-live?push={push_id}")
        csrf = await csrf_of(client, site.url + "broadcast")
        async with client.post(
            site.url + "broadcast",
            data={"csrf": csrf, "audience": "officers", "text": "Hello, officers."},
        ) as previewed:
            send = buttons(await previewed.text())["Send"]
        async with site.db.session() as session:  # `admin revoke` as it stores it
            await people.set_admin(
                session, platform="telegram", external_id=ADMIN.user_id, is_admin=False
            )
        await get(client, site.url + f"delivery-live?push={push_id}", 401)
        async with client.post(
            site.url + "broadcast-send",
            data={"csrf": csrf, "payload": send},
            allow_redirects=False,
        ) as sent:
            assert (sent.status, sent.headers["Location"]) == (303, "sign-in")
        await get(client, site.url + "broadcast", 303)  # the session ended with the right
    async with site.db.read() as session:
        assert list(await session.scalars(select(Push).where(Push.kind == "broadcast"))) == []

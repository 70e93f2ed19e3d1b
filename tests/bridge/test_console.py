"""The admins' web console over real HTTP: sign-in by a code the bot sends, CSRF, session
expiry and revocation, and a join request approved through the same handlers as in chat."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from datetime import timedelta

import aiohttp
from sqlalchemy import func, select

from ccin_bridge.console.server import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    start_console,
)
from ccin_bridge.handlers.config import Settings
from ccin_bridge.store import groups as store_groups
from ccin_bridge.store import people
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import AuditEntry, ConsoleSession
from tests.bridge.console_support import (
    CSRF_FIELD,
    PAYLOAD_FIELD,
    Site,
    ask_code,
    browser,
    codes_sent,
    csrf_of,
    enter_code,
    signed_in,
)
from tests.conftest import Clock
from tests.handlers.groups_support import ADMIN, ALEX_TG, join_officers, make_bridge, say


async def test_signed_out_every_page_leads_to_sign_in_and_shows_nothing(site: Site) -> None:
    async with browser() as client:
        for path in ("", "join-requests", "news", "deliveries"):
            async with client.get(site.url + path, allow_redirects=False) as page:
                assert page.status == 303
                assert page.headers["Location"] == "sign-in"
                assert "Join requests" not in await page.text()
        async with client.post(
            site.url + "press", data={"payload": "=approve 1"}, allow_redirects=False
        ) as pressed:
            assert pressed.status == 303
            assert pressed.headers["Location"] == "sign-in"
        async with client.get(site.url + "sign-in") as page:
            body = await page.text()
        assert "Send me a code" in body
        assert "Sign out" not in body
        async with client.get(site.url + "static/console.css") as style:
            assert style.status == 200  # the sign-in page is styled too
            assert style.content_type == "text/css"


async def test_an_admin_signs_in_with_the_code_sent_to_their_private_chat(site: Site) -> None:
    async with browser() as client:
        await signed_in(client, site)
        cookie = next(c for c in client.cookie_jar if c.key == SESSION_COOKIE)
        assert cookie["httponly"]
        assert cookie["samesite"] == "Strict"
        async with client.get(site.url) as page:
            body = await page.text()
            assert page.headers["Cache-Control"] == "no-store"
            assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        assert "Signed in as Ada Admin (telegram)" in body
        assert "Join requests waiting" in body
    assert [chat for chat, _ in await codes_sent(site.db)] == [ADMIN.user_id]
    async with site.db.read() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
        account = await people.find_identity(session, "telegram", ADMIN.user_id)
    assert "console.sign_in" in actions
    # Pages run commands as the account: its names as the platform gave them stay.
    assert account is not None
    assert (account.display_name, account.username) == ("Ada Admin", "ada_admin")


async def test_a_handle_that_is_no_admin_gets_the_same_page_and_no_code(site: Site) -> None:
    await say(site.bridge, ALEX_TG, "/help")
    async with browser() as client:
        for handle in ("@alexexample", "@nobody_at_all", "telegram:700123456"):
            sent = await ask_code(client, site, handle)
            assert sent.status == 303
            assert sent.headers["Location"] == "code"
    assert await codes_sent(site.db) == []


async def test_a_code_works_once_only_in_the_browser_that_asked_and_not_late(
    site: Site,
) -> None:
    async with browser() as asker, browser() as other:
        await ask_code(asker, site, "@ada_admin")
        (_, code), *_ = await codes_sent(site.db)
        await ask_code(other, site, "@nobody")  # another browser, with its own cookie
        assert (await enter_code(other, site, code)).status == 400
        site.clock.now += timedelta(minutes=11)
        late = await enter_code(asker, site, code)
        assert late.status == 400
        assert "not right, or it has expired" in await late.text()
    async with browser() as client:
        await ask_code(client, site, "@ada_admin")
        code = (await codes_sent(site.db))[-1][1]
        asked_with = {c.key: c.value for c in client.cookie_jar}
        assert (await enter_code(client, site, code)).status == 303
    # The same browser cookie and code once more (the page dropped the cookie; a replay
    # would not): refused, and no second session comes of it.
    async with aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True), cookies=asked_with
    ) as replay:
        csrf = asked_with[CSRF_COOKIE]
        async with replay.post(
            site.url + "code", data={"csrf": csrf, "code": code}, allow_redirects=False
        ) as again:
            assert again.status == 400
    async with site.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(ConsoleSession)) == 1


async def test_five_wrong_codes_use_a_code_up(site: Site) -> None:
    async with browser() as client:
        await ask_code(client, site, "@ada_admin")
        (_, code), *_ = await codes_sent(site.db)
        wrong = ("3" if code[0] == "2" else "2") + code[1:]
        for _ in range(5):
            assert (await enter_code(client, site, wrong)).status == 400
        assert (await enter_code(client, site, code)).status == 400


async def test_an_account_is_sent_at_most_three_codes_in_ten_minutes(site: Site) -> None:
    async with browser() as client:
        for _ in range(5):
            await ask_code(client, site, "@ada_admin")
    assert len(await codes_sent(site.db)) == 3


async def test_forms_without_the_right_token_or_from_elsewhere_are_refused(site: Site) -> None:
    async with browser() as client:
        async with client.post(
            site.url + "sign-in", data={"handle": "@ada_admin"}, allow_redirects=False
        ) as forged:
            assert forged.status == 400
        assert await codes_sent(site.db) == []
        await signed_in(client, site)
        await join_officers(site.bridge, ALEX_TG)
        async with client.get(site.url + "join-requests") as page:
            payload = PAYLOAD_FIELD.search(await page.text())
        assert payload
        async with client.post(
            site.url + "press", data={"csrf": "guess", "payload": payload.group(1)}
        ) as forged:
            assert forged.status == 403
        csrf = await csrf_of(client, site.url)
        async with client.post(
            site.url + "press",
            data={"csrf": csrf, "payload": payload.group(1)},
            headers={"Origin": "https://evil.example"},
        ) as elsewhere:
            assert elsewhere.status == 403
    async with site.db.read() as session:
        statuses = await store_groups.pending_requests(session)
    assert [r.display_name for r in statuses] == ["Alex Example"]


async def test_approving_in_the_console_is_the_chat_command_with_its_audit(site: Site) -> None:
    await join_officers(site.bridge, ALEX_TG)
    async with browser() as client:
        await signed_in(client, site)
        async with client.get(site.url + "join-requests") as page:
            body = await page.text()
        assert "Alex Example" in body
        approve = re.search(
            r'name="payload" value="([^"]+)">[^>]*><button type="submit" class="button primary">'
            r"Approve #(\d+)",
            body,
        )
        assert approve
        csrf = CSRF_FIELD.search(body)
        assert csrf
        async with client.post(
            site.url + "press",
            data={"csrf": csrf.group(1), "payload": approve.group(1), "back": "join-requests"},
        ) as done:
            result = await done.text()
        assert "Approved" in result or "approved" in result
        async with client.get(site.url + "join-requests") as again:
            assert "Alex Example" not in await again.text()  # shown once, then gone
    async with site.db.read() as session:
        entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        admin = await people.find_person(session, "telegram", ADMIN.user_id)
    approved = [e for e in entries if e.action == "admin.approve"]
    assert admin is not None
    assert [e.actor_id for e in approved] == [admin.id]


async def test_a_revoked_admin_is_signed_out_at_once(site: Site) -> None:
    async with browser() as client:
        await signed_in(client, site)
        async with site.db.session() as session:
            await people.set_admin(
                session, platform="telegram", external_id=ADMIN.user_id, is_admin=False
            )
        async with client.get(site.url, allow_redirects=False) as page:
            assert page.status == 303
            assert page.headers["Location"] == "sign-in"
    async with site.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(ConsoleSession)) == 0


async def test_an_idle_or_old_session_ends(site: Site) -> None:
    async with browser() as client:
        await signed_in(client, site)
        site.clock.now += timedelta(minutes=119)
        async with client.get(site.url, allow_redirects=False) as page:
            assert page.status == 200
        site.clock.now += timedelta(minutes=121)
        async with client.get(site.url, allow_redirects=False) as page:
            assert page.status == 303
    async with browser() as client:
        await signed_in(client, site)
        for _ in range(13):  # used every hour, but a sign-in lasts 12 hours at most
            site.clock.now += timedelta(hours=1)
            async with client.get(site.url, allow_redirects=False) as page:
                status = page.status
        assert status == 303


async def test_signing_out_ends_the_session(site: Site) -> None:
    async with browser() as client:
        await signed_in(client, site)
        csrf = await csrf_of(client, site.url)
        async with client.post(site.url + "sign-out", data={"csrf": csrf}) as out:
            assert "You have signed out." in await out.text()
        async with client.get(site.url, allow_redirects=False) as page:
            assert page.status == 303
    async with site.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(ConsoleSession)) == 0
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert "console.sign_out" in actions


async def test_a_question_the_bot_asks_is_answered_in_the_box_after_the_page_reloads(
    site: Site,
) -> None:
    await join_officers(site.bridge, ALEX_TG)
    async with browser() as client:
        await signed_in(client, site)
        csrf = await csrf_of(client, site.url)
        async with client.post(
            site.url + "type", data={"csrf": csrf, "line": "decline 1", "back": "join-requests"}
        ) as asked:
            page = await asked.text()
        assert "Why are you declining #1?" in page
        async with client.post(
            site.url + "type",
            data={"csrf": csrf, "line": "not a council officer", "back": "join-requests"},
        ) as answered:
            assert "Declined #1." in await answered.text()
    async with site.db.read() as session:
        assert await store_groups.pending_requests(session) == []


async def test_the_audit_log_filters_and_downloads_as_csv(site: Site) -> None:
    # A name chosen to be a spreadsheet formula: people pick their own names.
    await join_officers(
        site.bridge, replace(ALEX_TG, display_name='=HYPERLINK("https://x.example")')
    )
    async with browser() as client:
        await signed_in(client, site)
        async with client.get(site.url + "audit") as page:
            body = await page.text()
        assert "console.sign_in" in body and "Ada Admin" in body
        async with client.get(site.url + "audit", params={"action": "console.sign_in"}) as page:
            body = await page.text()
        assert "1 entry, newest first" in body
        async with client.get(site.url + "audit", params={"from": "yesterday"}) as bad:
            assert bad.status == 400
            assert "is not a day such as 2026-11-01" in await bad.text()
        async with client.get(
            site.url + "audit", params={"from": "2026-11-23", "to": "2026-11-22"}
        ) as backwards:
            assert backwards.status == 400
        async with client.get(site.url + "audit.csv") as download:
            assert download.content_type == "text/csv"
            assert "attachment" in download.headers["Content-Disposition"]
            raw = await download.read()
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads UTF-8
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert table[0] == ["when", "who", "action", "details"]
    assert any(row[2] == "console.sign_in" and row[1] == "Ada Admin" for row in table[1:])
    assert not any(cell.startswith("=") for row in table for cell in row)
    assert any(row[1].startswith("'=HYPERLINK") for row in table)  # kept, as text
    async with (
        browser() as stranger,
        stranger.get(site.url + "audit.csv", allow_redirects=False) as refused,
    ):
        assert refused.status == 303


async def test_sign_in_codes_stay_out_of_the_delivery_lists(site: Site) -> None:
    async with browser() as client:
        for _ in range(2):
            await ask_code(client, site, "@ada_admin")
        await signed_in(client, site)
        async with client.get(site.url + "deliveries") as page:
            body = await page.text()
    assert "sign-in code" not in body.lower()


async def test_behind_a_trusted_proxy_each_address_it_saw_has_its_own_tries(
    settings: Settings, db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, db, clock, admins=[])
    console = settings.console.model_copy(update={"trusted_proxy": True})
    bridge.settings = bridge.settings.model_copy(update={"console": console})
    listener = await start_console(bridge, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{listener.port}/"
    try:
        async with browser() as client:
            csrf = await csrf_of(client, url + "sign-in")

            async def ask(address: str) -> int:
                async with client.post(
                    url + "sign-in",
                    data={"csrf": csrf, "handle": "@nobody"},
                    headers={"X-Forwarded-For": f"203.0.113.9, {address}"},
                    allow_redirects=False,
                ) as sent:
                    return sent.status

            assert [await ask("198.51.100.1") for _ in range(11)] == [303] * 10 + [429]
            assert await ask("198.51.100.2") == 303  # another person behind the same proxy
    finally:
        await listener.stop()


async def test_an_origin_is_compared_as_a_browser_does(
    settings: Settings, db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, db, clock, admins=[])
    console = settings.console.model_copy(update={"public_url": "http://Admin.Example.org:80/"})
    bridge.settings = bridge.settings.model_copy(update={"console": console})
    listener = await start_console(bridge, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{listener.port}/"
    try:
        async with browser() as client:
            csrf = await csrf_of(client, url + "sign-in")
            for origin, status in (
                ("http://admin.example.org", 303),
                ("http://admin.example.org:8080", 403),
                ("https://admin.example.org", 403),
            ):
                async with client.post(
                    url + "sign-in",
                    data={"csrf": csrf, "handle": "@nobody"},
                    headers={"Origin": origin},
                    allow_redirects=False,
                ) as sent:
                    assert sent.status == status, origin
    finally:
        await listener.stop()

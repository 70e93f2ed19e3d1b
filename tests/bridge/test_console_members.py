"""The console's Members page: a group's members as /members lists them, and removing one with
a reason through /remove, with its notice and audit entry."""

from __future__ import annotations

from sqlalchemy import select

from ccin_bridge.handlers import reply_codec
from ccin_bridge.store import groups as store_groups
from ccin_bridge.store import people
from ccin_bridge.store.models import AuditEntry, Push
from tests.bridge.console_support import Site, browser, csrf_of, signed_in
from tests.handlers.groups_support import ADMIN, ALEX_TG, join_officers, say


async def test_a_member_is_removed_with_a_reason_as_by_the_chat_command(site: Site) -> None:
    await join_officers(site.bridge, ALEX_TG)
    await say(site.bridge, ADMIN, "/approve 1")
    async with site.db.read() as session:
        alex = await people.person_id_of(session, "telegram", ALEX_TG.user_id)
    assert alex is not None
    async with browser() as client:
        await signed_in(client, site)
        async with client.get(site.url + "members?g=officers") as page:
            shown = await page.text()
        assert page.status == 200 and "Alex Example" in shown and f'value="{alex}"' in shown
        csrf = await csrf_of(client, site.url + "members?g=officers")
        for person in ("", "²", "#1"):  # nobody chosen, or not an id: nothing runs
            form = {"csrf": csrf, "g": "officers", "person": person, "reason": "x"}
            async with client.post(site.url + "members", data=form) as refused:
                assert refused.status == 400 and "Choose the member" in await refused.text()
        form = {
            "csrf": csrf,
            "g": "officers",
            "person": str(alex),
            "reason": "Left the council\nlast month",
        }
        async with client.post(site.url + "members", data=form) as done:
            answer = await done.text()
        assert done.status == 200 and f"Removed #{alex}" in answer
        async with client.post(site.url + "members", data={**form, "csrf": "forged"}) as forged:
            assert forged.status == 403
    async with site.db.read() as session:
        membership = await store_groups.membership(session, alex, "officers")
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "admin.remove"))
        told = list(await session.scalars(select(Push.payload).where(Push.subject_id == alex)))
    assert membership is not None and membership.status == store_groups.REMOVED
    assert entry is not None and entry.detail["reason"] == "Left the council last month"
    assert any("Left the council last month" in reply_codec.decode(p).plain_text for p in told)


async def test_signed_out_the_members_page_leads_to_sign_in(site: Site) -> None:
    async with browser() as client:
        async with client.get(site.url + "members?g=officers", allow_redirects=False) as page:
            assert page.status in (302, 303) and "sign-in" in page.headers["Location"]
        async with client.post(site.url + "members", allow_redirects=False) as post:
            assert post.status in (302, 303, 403)

"""The console's Groups pages over HTTP: the list, a group's edit form submitted to /group,
its errors shown on their fields, and each member's rules acceptance."""

from __future__ import annotations

from aiohttp import FormData
from sqlalchemy import select

from ccin_bridge.store import audit
from ccin_bridge.store.models import Push
from tests.bridge.console_support import Site, browser, csrf_of, signed_in
from tests.handlers.groups_support import ALEX_TG, approve_all, join_officers

NEW_RULES = "Be kind.\nKeep what is said here <in> the group."


def _form(csrf: str, **fields: str | list[str]) -> FormData:
    data = FormData()
    data.add_field("csrf", csrf)
    data.add_field("group", "officers")
    for name, value in fields.items():
        for one in [value] if isinstance(value, str) else value:
            data.add_field(name, one)
    return data


async def test_groups_are_listed_with_a_link_to_each_edit_form(site: Site) -> None:
    async with browser() as client:
        async with client.get(site.url + "groups", allow_redirects=False) as signed_out:
            assert signed_out.status == 303  # signed out: to the sign-in page
        await signed_in(client, site)
        async with client.get(site.url + "groups") as page:
            assert page.status == 200
            listing = await page.text()
        assert 'href="group?g=officers"' in listing
        assert "Join policy" in listing and "Officer Network" in listing
        async with client.get(site.url + "group?g=nowhere") as missing:
            assert missing.status == 404


async def test_the_edit_form_saves_through_the_command_and_asks_members(site: Site) -> None:
    await join_officers(site.bridge, ALEX_TG)
    await approve_all(site.bridge)
    async with browser() as client:
        await signed_in(client, site)
        csrf = await csrf_of(client, site.url + "group?g=officers")
        async with client.get(site.url + "group?g=officers") as shown:
            form = await shown.text()
        assert 'name="join_policy" value="approval" checked' in form
        assert "accepted version 1" in form  # Alex, in the acceptance list
        fields: dict[str, str | list[str]] = {
            "description": "For council officers.",
            "join_policy": "open",
            "member_types": ["full", "associate"],
            "roles": "officer, manager",
            "rules": NEW_RULES,
        }
        async with client.post(site.url + "group?g=officers", data=_form(csrf, **fields)) as saved:
            assert saved.status == 200
            page = await saved.text()
        assert "now version 2; 1 member asked to accept them" in page
        assert "Keep what is said here &lt;in&gt; the group." in page  # escaped in the textarea
        assert 'name="join_policy" value="open" checked' in page
        assert "asked on" in page  # Alex has not accepted version 2 yet
    async with site.db.read() as session:
        assert await session.scalar(select(Push.id).where(Push.title == "Rules changed"))
        edits = await audit.entries(session, action="group.edit")
        rules = await audit.entries(session, action="group.rules")
    assert edits[0].detail["settings"] == "description, join_policy, roles"
    assert rules[0].detail["rules_version"] == 2


async def test_a_wrong_form_shows_its_errors_and_saves_nothing(site: Site) -> None:
    async with browser() as client:
        await signed_in(client, site)
        csrf = await csrf_of(client, site.url + "group?g=officers")
        wrong = _form(csrf, description="", join_policy="open", roles="officer", rules="x")
        async with client.post(site.url + "group?g=officers", data=wrong) as answer:
            assert answer.status == 400
            page = await answer.text()
        assert "There is a problem" in page
        assert 'id="description-error"' in page and 'id="member_types-error"' in page
        assert 'name="join_policy" value="open" checked' in page  # as they left it
        async with client.post(
            site.url + "group?g=officers", data=_form("not-the-token", description="x")
        ) as forged:
            assert forged.status == 403
    async with site.db.read() as session:
        assert await audit.entries(session, action="group.edit") == []

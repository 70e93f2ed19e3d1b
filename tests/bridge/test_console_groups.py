"""The console's Groups pages over HTTP: the list, a group's edit form submitted to /group,
its errors shown on their fields, and each member's rules acceptance."""

from __future__ import annotations

import html
import re

from aiohttp import FormData
from sqlalchemy import select

from ccin_bridge.store import audit
from ccin_bridge.store.models import Push
from tests.bridge.console_support import Site, browser, csrf_of, signed_in
from tests.handlers.groups_support import ADMIN, ALEX_TG, approve_all, join_officers, say, texts

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
        textarea = "Keep what is said here &lt;in&gt; the group.</textarea>"
        assert textarea in page  # escaped in the textarea
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


def _drawn(page: str) -> dict[str, str]:
    """The form's hidden values as drawn (`was_rules`), as a browser would post them back."""
    found = re.findall(r'<input type="hidden" name="(was_\w+)" value="([^"]*)">', page)
    return {name: html.unescape(value) for name, value in found}


async def test_a_stale_form_saves_only_what_its_admin_changed(site: Site) -> None:
    async with browser() as client:
        await signed_in(client, site)
        csrf = await csrf_of(client, site.url + "group?g=officers")
        async with client.get(site.url + "group?g=officers") as shown:
            drawn = _drawn(await shown.text())
        assert set(drawn) == {
            f"was_{n}" for n in ("description", "join_policy", "member_types", "roles", "rules")
        }
        # Another admin edits the description and the rules while this form is open.
        await say(site.bridge, ADMIN, "/group set officers description The other admin's words.")
        await say(site.bridge, ADMIN, "/group rules officers\nThe other admin's rules.")
        # This admin changes only the roles; every other field is posted as it was drawn.
        as_drawn: dict[str, str | list[str]] = {
            "description": drawn["was_description"],
            "join_policy": drawn["was_join_policy"],
            "member_types": drawn["was_member_types"].split(", "),
            "roles": "officer, manager",
            "rules": drawn["was_rules"],
        }
        stale = _form(csrf, **as_drawn, **drawn)
        async with client.post(site.url + "group?g=officers", data=stale) as saved:
            assert saved.status == 200
            page = await saved.text()
        assert "Saved: roles." in page and "are now version 3" not in page
        # Changing a field the other admin changed since is refused, and nothing is saved.
        clash = _form(csrf, **{**as_drawn, "description": "My words.", "roles": "officer"}, **drawn)
        async with client.post(site.url + "group?g=officers", data=clash) as refused:
            assert refused.status == 400
            page = await refused.text()
        assert 'id="description-error"' in page and "Another admin changed this" in page
    said = texts(await say(site.bridge, ADMIN, "/group show officers"))
    assert "The other admin's words." in said and "The other admin's rules." in said
    assert "version 2" in said and "officer, manager" in said

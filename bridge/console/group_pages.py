"""The console's Groups pages: the groups with their settings (`/group`), and for each group
an edit form (description, join policy, who may join, rules of engagement) with each member's
rules acceptance (`/group show GROUP`).

The form is submitted to the `/group` command as a platform's form is (`FormSubmitted`), so
the checks, the saving, the new rules version and the asking members to accept it, and the
audit entries are the chat command's own.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp import web

from ccin_bridge.console.site import ConsoleSite
from ccin_bridge.handlers import group_settings
from ccin_bridge.handlers.config import GroupConfig
from ccin_bridge.handlers.console import SignedIn
from ccin_bridge.handlers.events import FormSubmitted
from ccin_bridge.handlers.group_settings import DRAWN
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.replies import Reply

LIST_PATH, EDIT_PATH = "groups", "group"


def add_routes(app: web.Application, site: ConsoleSite) -> None:
    pages = GroupPages(site)
    app.router.add_get(f"/{LIST_PATH}", pages.listing)
    app.router.add_get(f"/{EDIT_PATH}", pages.edit)
    app.router.add_post(f"/{EDIT_PATH}", pages.save)


def _values(group: GroupConfig) -> dict[str, Any]:
    return {**group_settings.form_values(group), "member_types": list(group.member_types)}


class GroupPages:
    def __init__(self, site: ConsoleSite) -> None:
        self.site = site
        self.bridge = site.console.bridge

    async def _live_group(self, slug: str) -> GroupConfig | None:
        async with self.bridge.db.read() as session:
            settings = await self.bridge.live_settings(session)
        return settings.group(slug)

    async def listing(self, request: web.Request) -> web.StreamResponse:
        signed = await self.site.signed_in(request)
        if signed is None:
            return self.site.to_sign_in(request)
        csrf = signed.session.csrf
        # The command's reply, without its "Show" buttons: each group has an edit link here.
        replies = [replace(r, buttons=()) for r in await self.site.console.show(signed, "group")]
        return self.site.render(
            "groups_list.html",
            title="Groups",
            admin=signed.admin,
            csrf=csrf,
            here=LIST_PATH,
            groups=[(g.slug, g.name) for g in self.bridge.settings.groups],
            replies=[await self.site.reply_html(r, csrf, back=LIST_PATH) for r in replies],
        )

    async def edit(self, request: web.Request) -> web.StreamResponse:
        signed = await self.site.signed_in(request)
        if signed is None:
            return self.site.to_sign_in(request)
        group = await self._live_group(request.query.get("g", ""))
        if group is None:
            return await self._missing(signed)
        return await self._form(signed, group, _values(group), {}, [])

    async def save(self, request: web.Request) -> web.StreamResponse:
        posted = await self.site.posted(request)
        if isinstance(posted, web.StreamResponse):
            return posted
        signed, form = posted
        slug = str(form.get("group", ""))
        answers = {
            name: str(form.get(name, ""))
            for name in ("group", "description", "join_policy", "roles", "rules")
        }
        # Checkboxes: one value each, as a list typed in chat would be.
        answers["member_types"] = ", ".join(str(v) for v in form.getall("member_types", []))
        drawn = {
            name: str(form[DRAWN + name]) for name in group_settings.FIELDS if DRAWN + name in form
        }
        answers.update({DRAWN + name: value for name, value in drawn.items()})
        chat = ChatRef(signed.admin.platform, f"console-{signed.session.id}")
        outcome = await self.bridge.dispatch(FormSubmitted(signed.user, chat, "group", answers))
        group = await self._live_group(slug)
        if group is None:
            return await self._missing(signed)
        errors = dict(outcome.form.errors) if outcome.form is not None else {}
        if errors:
            values: dict[str, Any] = dict(answers)
            values["member_types"] = [str(v) for v in form.getall("member_types", [])]
            # The values as drawn stay the ones the admin's form was drawn with.
            return await self._form(signed, group, values, errors, [], drawn, status=400)
        return await self._form(signed, group, _values(group), {}, outcome.reply_list)

    async def _missing(self, signed: SignedIn) -> web.StreamResponse:
        return self.site.render(
            "groups_list.html",
            status=404,
            title="No such group",
            admin=signed.admin,
            csrf=signed.session.csrf,
            here=LIST_PATH,
            groups=[(g.slug, g.name) for g in self.bridge.settings.groups],
            replies=[],
        )

    async def _form(
        self,
        signed: SignedIn,
        group: GroupConfig,
        values: dict[str, Any],
        errors: dict[str, str],
        result: list[Reply],
        drawn: dict[str, str] | None = None,
        status: int = 200,
    ) -> web.Response:
        csrf = signed.session.csrf
        shown = await self.site.console.show(signed, f"group show {group.slug}")
        return self.site.render(
            "groups_edit.html",
            status=status,
            title=f"{group.name}: settings and rules",
            admin=signed.admin,
            csrf=csrf,
            here=LIST_PATH,
            group=group,
            values=values,
            drawn=drawn if drawn is not None else group_settings.form_values(group),
            drawn_prefix=DRAWN,
            errors=errors,
            labels=group_settings.LABELS,
            member_types=[(t, t.capitalize()) for t in group_settings.MEMBER_TYPES],
            max_rules=group_settings.MAX_RULES,
            max_description=group_settings.MAX_DESCRIPTION,
            result=[await self.site.reply_html(r, csrf, back=LIST_PATH) for r in result],
            shown=[await self.site.reply_html(r, csrf, back=LIST_PATH) for r in shown],
        )

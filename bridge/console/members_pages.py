"""The console's Members page: each group's members with their platforms and rules acceptance
(`/members GROUP`), and a form to remove one with a reason (`/remove GROUP #ID REASON`).

Both are the chat commands, run as the signed-in admin: the same checks, the same notice to
the person removed, the same `admin.remove` audit entry.
"""

from __future__ import annotations

from aiohttp import web

from ccin_bridge.console.site import ConsoleSite
from ccin_bridge.handlers.console import SignedIn
from ccin_bridge.handlers.replies import Reply
from ccin_bridge.store import groups as store_groups

PATH = "members"
MAX_REASON = 500  # as /remove keeps it


def add_routes(app: web.Application, site: ConsoleSite) -> None:
    pages = MembersPage(site)
    app.router.add_get(f"/{PATH}", pages.show)
    app.router.add_post(f"/{PATH}", pages.remove)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:MAX_REASON]


class MembersPage:
    def __init__(self, site: ConsoleSite) -> None:
        self.site = site
        self.bridge = site.console.bridge

    def _slug(self, wanted: str) -> str:
        groups = self.bridge.settings.groups
        return next((g.slug for g in groups if g.slug == wanted), groups[0].slug)

    async def show(self, request: web.Request) -> web.StreamResponse:
        signed = await self.site.signed_in(request)
        if signed is None:
            return self.site.to_sign_in(request)
        return await self._page(signed, self._slug(request.query.get("g", "")), [], {})

    async def remove(self, request: web.Request) -> web.StreamResponse:
        posted = await self.site.posted(request)
        if isinstance(posted, web.StreamResponse):
            return posted
        signed, form = posted
        slug = self._slug(str(form.get("g", "")))
        person, reason = str(form.get("person", "")).strip(), _one_line(str(form.get("reason", "")))
        if not person.isascii() or not person.isdigit():
            errors = {"person": "Choose the member to remove."}
            return await self._page(signed, slug, [], errors, status=400)
        done = await self.site.console.show(signed, f"remove {slug} #{person} {reason}".strip())
        return await self._page(signed, slug, done, {})

    async def _page(
        self,
        signed: SignedIn,
        slug: str,
        result: list[Reply],
        errors: dict[str, str],
        status: int = 200,
    ) -> web.Response:
        csrf = signed.session.csrf
        shown = await self.site.console.show(signed, f"members {slug}")
        async with self.bridge.db.read() as session:
            rows = await store_groups.members(session, slug, (store_groups.ACTIVE,))
        members = [(r.person_id, r.display_name or f"#{r.person_id}") for r in rows]
        return self.site.render(
            "members.html",
            status=status,
            title="Members",
            admin=signed.admin,
            csrf=csrf,
            here=PATH,
            slug=slug,
            groups=[(g.slug, g.name) for g in self.bridge.settings.groups],
            members=members,
            errors=errors,
            max_reason=MAX_REASON,
            result=[await self.site.reply_html(r, csrf, back=f"{PATH}?g={slug}") for r in result],
            shown=[await self.site.reply_html(r, csrf, back=f"{PATH}?g={slug}") for r in shown],
        )

"""The console's sending pages: *Broadcast* (the broadcast flow's form, its preview as each
platform will show it, Send), *Deliveries* and each push's delivery report (filling in while
the outbox delivers), and *Digest* (the coming edition per audience, sent early on a yes).

Sending goes through the commands, as in chat: the form is the flow's (`Console.submit`),
Send presses the preview's own button, and a digest goes early by `/digest send AUDIENCE`,
with their audit entries. The platforms' previews are drawn by their adapters (the registry's
`preview` hook, bots/<platform>/preview.py), so a new platform brings its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from importlib.resources import files
from typing import Any

from aiohttp import web
from markupsafe import Markup

from ccin_bridge.console.cookies import SESSION_COOKIE
from ccin_bridge.console.site import ConsoleSite
from ccin_bridge.handlers import console_send, platforms
from ccin_bridge.handlers.commands.broadcast import BROADCAST
from ccin_bridge.handlers.console import SignedIn
from ccin_bridge.handlers.replies import Reply, text
from ccin_bridge.handlers.requests import clean_text

SCRIPT = "console-live.js"
NAV = (("deliveries", "Deliveries"), ("broadcast", "Broadcast"), ("digest", "Digest"))
# A reply's button that opens a push's report: where the console goes once it is queued.
_REPORT = re.compile(r"deliveries (\d+)")


@dataclass(frozen=True)
class PlatformPreview:
    name: str
    label: str
    messages: tuple[Markup, ...]  # empty: this platform draws no preview


def report_of(replies: list[Reply]) -> int | None:
    """The push whose report a reply offers (its *Delivery report* button), if any."""
    for reply in replies:
        for row in reply.buttons:
            for button in row:
                found = _REPORT.fullmatch(button.action)
                if found:
                    return int(found.group(1))
    return None


def _action(replies: list[Reply], role: str) -> str | None:
    for reply in replies:
        for row in reply.buttons:
            for button in row:
                if button.role == role:
                    return button.action
    return None


def _see_other(location: str) -> web.Response:
    """A 303 to a path relative to the page (the console may sit under a path prefix)."""
    return web.Response(status=303, headers={"Location": location})


def _no_audience(given: str) -> list[Reply]:
    """What the Digest page says of an audience that is not one of its choices."""
    shown = clean_text(given)[:40]
    if not shown:
        return []  # nothing chosen (or only invisible characters): the choice again
    return [text(f"There is no audience called “{shown}”. Choose one from the list.")]


def _without_buttons(replies: list[Reply]) -> list[Reply]:
    return [replace(r, buttons=()) for r in replies]


class SendPages:
    def __init__(self, site: ConsoleSite) -> None:
        self.site = site
        self.console = site.console
        self.script = (files("ccin_bridge.console") / "static" / SCRIPT).read_bytes()

    # -- pieces ----------------------------------------------------------------------------

    async def _signed(self, request: web.Request) -> SignedIn | web.StreamResponse:
        signed = await self.site.signed_in(request)
        return self.site.to_sign_in(request) if signed is None else signed

    def _page(
        self, template: str, signed: SignedIn, here: str, title: str, **values: Any
    ) -> web.Response:
        return self.site.render(
            template,
            status=int(values.pop("status", 200)),
            title=title,
            admin=signed.admin,
            csrf=signed.session.csrf,
            here=here,
            **values,
        )

    async def _replies(self, replies: list[Reply], signed: SignedIn, back: str) -> list[Markup]:
        csrf = signed.session.csrf
        return [await self.site.reply_html(r, csrf, back=back) for r in replies]

    def previews(self, message: Reply) -> list[PlatformPreview]:
        """`message` as each platform the bridge runs will show it (all public ones when the
        console was not told which run), drawn by the platform's own adapter."""
        shown = []
        for name, spec in platforms.registered().items():
            if self.site.platforms and name not in self.site.platforms:
                continue
            if not self.site.platforms and not spec.public:
                continue
            draw = platforms.load_preview(spec)
            drawn = tuple(Markup(m) for m in draw(message)) if draw is not None else ()
            shown.append(PlatformPreview(name, spec.label, drawn))
        return shown

    # -- broadcast -------------------------------------------------------------------------

    async def broadcast(self, request: web.Request) -> web.StreamResponse:
        signed = await self._signed(request)
        if not isinstance(signed, SignedIn):
            return signed
        return await self._broadcast(signed, {}, {}, [])

    async def _broadcast(
        self,
        signed: SignedIn,
        values: dict[str, str],
        errors: dict[str, str],
        outcome: list[Reply],
        preview: list[Reply] | None = None,
    ) -> web.Response:
        message = None
        if preview:
            bridge = self.console.bridge
            message = await console_send.waiting_broadcast(
                bridge.db, bridge.settings, signed.admin.identity_id, bridge.clock()
            )
        confirm = _action(preview or [], "confirm") if message is not None else None
        cancel = _action(preview or [], "cancel") if message is not None else None
        return self._page(
            "send_broadcast.html",
            signed,
            "broadcast",
            "Broadcast",
            status=400 if errors else 200,
            fields=self.console.form_fields(BROADCAST.command),
            values=values,
            errors=errors,
            outcome=await self._replies(outcome, signed, "broadcast"),
            preview=await self._replies(_without_buttons(preview or []), signed, "broadcast"),
            platform_previews=self.previews(message) if message is not None else [],
            confirm=await self.console.payload(confirm) if confirm else "",
            cancel=await self.console.payload(cancel) if cancel else "",
        )

    async def broadcast_posted(self, request: web.Request) -> web.StreamResponse:
        posted = await self.site.posted(request)
        if isinstance(posted, web.StreamResponse):
            return posted
        signed, form = posted
        answers = {k: str(v) for k, v in form.items() if k != "csrf"}
        outcome = await self.console.submit(signed, BROADCAST.command, answers)
        errors = dict(outcome.form.errors) if outcome.form is not None else {}
        if errors:
            return await self._broadcast(signed, answers, errors, [])
        return await self._broadcast(signed, answers, {}, [], preview=outcome.reply_list)

    async def broadcast_send(self, request: web.Request) -> web.StreamResponse:
        """Send or Cancel on the preview: the preview's own button pressed, as in chat; once
        queued, the push's delivery report."""
        posted = await self.site.posted(request)
        if isinstance(posted, web.StreamResponse):
            return posted
        signed, form = posted
        replies = await self.console.press(signed, str(form.get("payload", "")))
        push_id = report_of(replies)
        if push_id is not None:
            return _see_other(f"delivery?push={push_id}")
        return await self._broadcast(signed, {}, {}, replies)

    # -- deliveries ------------------------------------------------------------------------

    async def deliveries(self, request: web.Request) -> web.StreamResponse:
        signed = await self._signed(request)
        if not isinstance(signed, SignedIn):
            return signed
        bridge = self.console.bridge
        pushes = await console_send.recent(bridge.db, bridge.settings)
        return self._page("send_deliveries.html", signed, "deliveries", "Deliveries", pushes=pushes)

    async def _status(self, request: web.Request) -> console_send.PushStatus | None:
        given = request.query.get("push", "").removeprefix("#")
        if not given.isdigit() or len(given) > 18:
            return None
        bridge = self.console.bridge
        return await console_send.push_status(bridge.db, bridge.settings, int(given))

    async def delivery(self, request: web.Request) -> web.StreamResponse:
        signed = await self._signed(request)
        if not isinstance(signed, SignedIn):
            return signed
        status = await self._status(request)
        if status is None:
            return self._page(
                "send_delivery.html", signed, "deliveries", "No such push", status=404, push=None
            )
        return self._page(
            "send_delivery.html",
            signed,
            "deliveries",
            f"Delivery report #{status.push_id}",
            push=status,
        )

    async def delivery_live(self, request: web.Request) -> web.StreamResponse:
        """The report's changing part alone, for the page's script to put in place."""
        # The script's polling is not the admin's use: it must not hold off the idle sign-out.
        token = request.cookies.get(SESSION_COOKIE)
        signed = await self.console.signed_in(token, touch=False) if token else None
        if signed is None:
            return web.Response(status=401, text="Signed out.")
        status = await self._status(request)
        if status is None:
            return web.Response(status=404, text="There is no such push.")
        body = self.site.templates.get_template("send_delivery_live.html").render(push=status)
        return web.Response(text=body, content_type="text/html")

    async def live_script(self, _request: web.Request) -> web.Response:
        response = web.Response(body=self.script, content_type="text/javascript")
        response.headers["Cache-Control"] = "max-age=3600"
        return response

    # -- digest ----------------------------------------------------------------------------

    async def digest(self, request: web.Request) -> web.StreamResponse:
        signed = await self._signed(request)
        if not isinstance(signed, SignedIn):
            return signed
        given = request.query.get("audience", "")
        audience = self._audience(given)
        return await self._digest(signed, audience, [] if audience else _no_audience(given))

    def _audience(self, given: str) -> str:
        """The configured audience slug given, else "" (nothing to preview or send). Only a
        slug the page offers is taken: anything else, even text whose invisible characters
        the command line would clean away to nothing, must never become a `/digest send`."""
        slugs = {a.slug for a in self.console.settings.audiences}
        return given if given in slugs else ""

    async def _digest(
        self, signed: SignedIn, audience: str, outcome: list[Reply], *, confirm: bool = False
    ) -> web.Response:
        settings = self.console.settings
        preview: list[Reply] = []
        if audience:
            preview = await self.console.show(signed, f"digest preview {audience}")
        can_send = any(
            b.action.startswith("digest send ") for r in preview for row in r.buttons for b in row
        )
        digest = preview[1] if len(preview) == 2 else None  # else the command's refusal
        return self._page(
            "send_digest_confirm.html" if confirm and can_send else "send_digest.html",
            signed,
            "digest",
            "Send the digest early?" if confirm and can_send else "Digest",
            audiences=[(a.slug, a.name) for a in settings.audiences],
            audience=audience,
            outcome=await self._replies(outcome, signed, "digest"),
            note=await self._replies(_without_buttons(preview[:1]), signed, "digest"),
            # A preview's buttons (Unsubscribe, Send news...) are the readers', not the admin's.
            message=await self._replies(_without_buttons(preview[1:]), signed, "digest"),
            platform_previews=self.previews(digest) if digest is not None else [],
            can_send=can_send,
        )

    async def digest_posted(self, request: web.Request) -> web.StreamResponse:
        """*Send early* asks for a yes first; the yes sends it by `/digest send AUDIENCE`."""
        posted = await self.site.posted(request)
        if isinstance(posted, web.StreamResponse):
            return posted
        signed, form = posted
        given = str(form.get("audience", ""))
        audience = self._audience(given)
        if not audience:
            return await self._digest(signed, "", _no_audience(given))
        if form.get("step") != "send":
            return await self._digest(signed, audience, [], confirm=True)
        replies = await self.console.show(signed, f"digest send {audience}")
        push_id = report_of(replies)
        if push_id is not None:
            return _see_other(f"delivery?push={push_id}")
        return await self._digest(signed, audience, replies)


def add_routes(app: web.Application, site: ConsoleSite) -> None:
    pages = SendPages(site)
    app.router.add_get("/broadcast", pages.broadcast)
    app.router.add_post("/broadcast", pages.broadcast_posted)
    app.router.add_post("/broadcast-send", pages.broadcast_send)
    app.router.add_get("/deliveries", pages.deliveries)
    app.router.add_get("/delivery", pages.delivery)
    app.router.add_get("/delivery-live", pages.delivery_live)
    app.router.add_get("/digest", pages.digest)
    app.router.add_post("/digest", pages.digest_posted)
    app.router.add_get(f"/static/{SCRIPT}", pages.live_script)

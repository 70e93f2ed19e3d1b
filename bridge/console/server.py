"""The console's HTTP side: sign-in pages, session and CSRF checks, pages made of commands'
replies, and the listener `run` starts when config `console.enabled` is true.

Cookies are HttpOnly and SameSite=Strict (Secure when the public URL is https). Every form
carries a CSRF token: the session's once signed in, before that a random value that must
match a cookie of its own (double submit). A POST whose Origin is not the console's is
refused. Signed out, every page but sign-in redirects there; nothing else is shown.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import date
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode, urlsplit

import jinja2
from aiohttp import web
from markupsafe import Markup

from ccin_bridge.console import (
    charts_pages,
    data_pages,
    group_pages,
    html,
    members_pages,
    send_pages,
)
from ccin_bridge.console.cookies import SESSION_COOKIE as SESSION_COOKIE  # re-exported
from ccin_bridge.handlers.config import ConfigError
from ccin_bridge.handlers.console import AuditQuery, Console, SignedIn
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.replies import Button, Reply

log = logging.getLogger(__name__)

SIGN_IN_COOKIE = "ccin_console_sign_in"  # binds a code to the browser that asked for it
CSRF_COOKIE = "ccin_console_csrf"  # signed-out forms' double-submit token
# Sign-in attempts per client address in a window: slows guessing and flooding.
ATTEMPTS, WINDOW_S = 10, 600.0
MAX_BODY = 64 * 1024

# Each page: its path, menu label, and the commands whose replies make it, with a heading.
PAGES: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "./",
        "Overview",
        (
            ("Join requests waiting", "pending"),
            ("News waiting", "news review"),
            ("Groups at a glance", "stats"),
            ("Recent deliveries", "deliveries"),
        ),
    ),
    ("join-requests", "Join requests", (("Join requests waiting", "pending"),)),
    ("news", "News", (("News waiting for a decision", "news review"),)),
)
# Pages that are a flow's form (the flow's command: handlers/console.py FORMS).
FORM_PAGES: tuple[tuple[str, str, str, str], ...] = ()
NAV = (
    *((path, label) for path, label, _ in PAGES),
    *send_pages.NAV,
    *((path, label) for path, label, _, _ in FORM_PAGES),
    ("groups", "Groups"),
    (members_pages.PATH, "Members"),
    ("imports", "Imports"),  # data_pages.py: imports, events and feeds, admins, jobs
    ("events", "Events and feeds"),
    ("admins", "Admins"),
    ("jobs", "Jobs"),
    ("audit", "Audit log"),
    ("engagement", "Engagement"),
)


@dataclass(frozen=True)
class Section:
    title: str
    replies: list[Markup]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Limiter:
    """At most ATTEMPTS per key in WINDOW_S (in this process: enough against one browser)."""

    def __init__(self) -> None:
        self._seen: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        seen = self._seen.setdefault(key, deque())
        while seen and seen[0] <= now - WINDOW_S:
            seen.popleft()
        if len(seen) >= ATTEMPTS:
            return False
        seen.append(now)
        if len(self._seen) > 10_000:  # forget those quiet for a window rather than grow
            self._seen = {k: v for k, v in self._seen.items() if v[-1] > now - WINDOW_S}
        return True


class ConsoleSite:
    def __init__(self, bridge: Bridge, platforms: Collection[str] = ()) -> None:
        self.console = Console(bridge)
        self.platforms = frozenset(platforms)  # those running (none named: every public one)
        self.settings = bridge.settings.console
        self.network = bridge.settings.network_name
        self.secure = (self.settings.public_url or "").startswith("https://")
        self.limiter = _Limiter()
        self._sending: set[asyncio.Task[None]] = set()  # codes being sent (kept from the GC)
        # Pages of other modules a pressed button's outcome is drawn on, by path.
        self.pages_back: dict[str, Callable[..., Awaitable[web.StreamResponse]]] = {}
        # One small file, read once: no static-file route that could be walked out of.
        self.css = (files("ccin_bridge.console") / "static" / "console.css").read_bytes()
        loader = jinja2.FileSystemLoader(str(files("ccin_bridge.console") / "templates"))
        self.templates = jinja2.Environment(
            loader=loader, autoescape=True, undefined=jinja2.StrictUndefined
        )

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._headers], client_max_size=MAX_BODY)
        app.router.add_get("/", self.overview)
        for path, _, _ in PAGES[1:]:
            app.router.add_get(f"/{path}", self.page)
        for path, _, _, _ in FORM_PAGES:
            app.router.add_get(f"/{path}", self.form_page)
            app.router.add_post(f"/{path}", self.form_submitted)
        app.router.add_get("/audit", self.audit_page)
        app.router.add_get("/audit.csv", self.audit_csv)
        app.router.add_get("/sign-in", self.sign_in_form)
        app.router.add_post("/sign-in", self.send_code)
        app.router.add_get("/code", self.code_form)
        app.router.add_post("/code", self.check_code)
        app.router.add_post("/sign-out", self.sign_out)
        app.router.add_post("/press", self.press)
        app.router.add_post("/type", self.type_line)
        app.router.add_get("/static/console.css", self.stylesheet)
        charts_pages.add_routes(app, self)
        send_pages.add_routes(app, self)
        data_pages.add_routes(app, self)
        group_pages.add_routes(app, self)
        members_pages.add_routes(app, self)
        return app

    @web.middleware
    async def _headers(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "POST" and not self._same_origin(request):
            return web.Response(status=403, text="This form did not come from the console.")
        response = await handler(request)
        response.headers.update(
            {
                "Content-Security-Policy": (
                    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                    "script-src 'self'; connect-src 'self'; "
                    "frame-ancestors 'none'; base-uri 'none'"
                ),
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "same-origin",  # no-referrer would make Origin "null"
                "X-Frame-Options": "DENY",
            }
        )
        if not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    def _same_origin(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:  # older browsers send none on same-origin posts; CSRF token decides
            return True
        if self.settings.public_url:
            return _origin(origin) == _origin(self.settings.public_url)
        return _origin(origin) == _origin(f"{request.scheme}://{request.host}")

    def _client(self, request: web.Request) -> str:
        """Who is asking, for the limiter: behind a proxy that says so (config
        `console.trusted_proxy`), the address it saw, the last in X-Forwarded-For."""
        if self.settings.trusted_proxy:
            forwarded = request.headers.get("X-Forwarded-For", "")
            last = forwarded.rsplit(",", 1)[-1].strip()
            if last:
                return last[:64]
        return request.remote or "?"

    async def settle(self) -> None:
        """Wait for the codes being sent (tests; and a stopping bridge lets them finish)."""
        while self._sending:
            await asyncio.wait(set(self._sending))

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("console: a sign-in code could not be sent", exc_info=task.exception())

    async def stylesheet(self, _request: web.Request) -> web.Response:
        response = web.Response(body=self.css, content_type="text/css")
        response.headers["Cache-Control"] = "max-age=3600"
        return response

    # -- signed out ------------------------------------------------------------------------

    def _cookie(self, response: web.StreamResponse, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            httponly=True,
            secure=self.secure,
            samesite="Strict",
        )

    @staticmethod
    def _csrf_ok(expected: str | None, form: Any) -> bool:
        given = form.get("csrf")
        return (
            bool(expected)
            and isinstance(given, str)
            and secrets.compare_digest(given, str(expected))
        )

    def _render(self, name: str, status: int = 200, **values: Any) -> web.Response:
        values.setdefault("admin", None)
        values.setdefault("csrf", "")
        values.setdefault("nav", NAV)
        values.setdefault("here", "")
        body = self.templates.get_template(name).render(network=self.network, **values)
        return web.Response(status=status, text=body, content_type="text/html")

    async def sign_in_form(self, request: web.Request) -> web.StreamResponse:
        return self._with_csrf(request, "sign_in.html", "Sign in", {})

    def _with_csrf(
        self, request: web.Request, template: str, title: str, values: dict[str, Any]
    ) -> web.Response:
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        status = int(values.pop("status", 200))
        defaults = {"handle": "", "error": "", "notice": ""}
        response = self._render(template, status, title=title, csrf=token, **(defaults | values))
        self._cookie(response, CSRF_COOKIE, token, 3600)
        return response

    async def send_code(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        if not self._csrf_ok(request.cookies.get(CSRF_COOKIE), form):
            return self._with_csrf(
                request,
                "sign_in.html",
                "Sign in",
                {"status": 400, "notice": "That page had expired. Please try again."},
            )
        handle = str(form.get("handle", "")).strip()
        if not handle:
            return self._with_csrf(
                request,
                "sign_in.html",
                "Sign in",
                {"status": 400, "error": "Enter your handle on Telegram or Slack"},
            )
        if not self.limiter.allow(f"send:{self._client(request)}"):
            return self._with_csrf(
                request,
                "sign_in.html",
                "Sign in",
                {"status": 429, "notice": "Too many tries. Please wait 10 minutes."},
            )
        browser = secrets.token_urlsafe(32)
        # In the background: the answer comes as fast for a handle that is an admin's as for
        # one that is not, so its timing does not tell who the admins are either.
        task = asyncio.create_task(self.console.send_code(handle, browser))
        self._sending.add(task)
        task.add_done_callback(self._sent)
        response = _see_other("code")
        self._cookie(response, SIGN_IN_COOKIE, browser, 600)
        return response

    async def code_form(self, request: web.Request) -> web.StreamResponse:
        if SIGN_IN_COOKIE not in request.cookies:
            return _see_other("sign-in")
        return self._with_csrf(request, "code.html", "Enter your code", {})

    async def check_code(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        browser = request.cookies.get(SIGN_IN_COOKIE)
        if browser is None:
            return _see_other("sign-in")
        if not self._csrf_ok(request.cookies.get(CSRF_COOKIE), form):
            return self._with_csrf(
                request, "code.html", "Enter your code", {"status": 400, "error": _EXPIRED}
            )
        if not self.limiter.allow(f"code:{self._client(request)}"):
            return self._with_csrf(
                request,
                "code.html",
                "Enter your code",
                {"status": 429, "error": "Too many tries. Please wait 10 minutes."},
            )
        signed = await self.console.sign_in(browser, str(form.get("code", "")))
        if signed is None:
            return self._with_csrf(
                request,
                "code.html",
                "Enter your code",
                {"status": 400, "error": "That code is not right, or it has expired"},
            )
        token, _ = signed
        response = _see_other("./")
        self._cookie(response, SESSION_COOKIE, token, self.settings.session_hours * 3600)
        response.del_cookie(SIGN_IN_COOKIE, path="/")
        response.del_cookie(CSRF_COOKIE, path="/")
        return response

    # -- signed in -------------------------------------------------------------------------

    async def _signed_in(self, request: web.Request) -> SignedIn | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        return await self.console.signed_in(token)

    def _to_sign_in(self, request: web.Request) -> web.StreamResponse:
        response = _see_other("sign-in")
        if SESSION_COOKIE in request.cookies:
            response.del_cookie(SESSION_COOKIE, path="/")
        return response

    async def overview(self, request: web.Request) -> web.StreamResponse:
        return await self._page(request, PAGES[0])

    async def page(self, request: web.Request) -> web.StreamResponse:
        path = request.path.lstrip("/")
        found = next(p for p in PAGES if p[0] == path)
        return await self._page(request, found)

    async def _page(
        self,
        request: web.Request,
        page: tuple[str, str, tuple[tuple[str, str], ...]],
        result: list[Reply] | None = None,
    ) -> web.StreamResponse:
        signed = await self._signed_in(request)
        if signed is None:
            return self._to_sign_in(request)
        path, label, parts = page
        csrf = signed.session.csrf
        sections = []
        for title, line in parts:
            replies = await self.console.show(signed, line)
            sections.append(Section(title, [await self._html(r, csrf, back=path) for r in replies]))
        return self._render(
            "page.html",
            title=label,
            admin=signed.admin,
            csrf=csrf,
            here=path,
            sections=sections,
            result=[await self._html(r, csrf, back=path) for r in result or []],
        )

    async def form_page(self, request: web.Request) -> web.StreamResponse:
        signed = await self._signed_in(request)
        if signed is None:
            return self._to_sign_in(request)
        return await self._form(self._form_spec(request.path), signed, {}, {}, [])

    async def form_submitted(self, request: web.Request) -> web.StreamResponse:
        posted = await self._posted(request)
        if isinstance(posted, web.StreamResponse):
            return posted
        signed, form = posted
        spec = self._form_spec(request.path)
        answers = {k: str(v) for k, v in form.items() if k != "csrf"}
        outcome = await self.console.submit(signed, spec[2], answers)
        errors = dict(outcome.form.errors) if outcome.form is not None else {}
        replies = [] if errors else outcome.reply_list
        return await self._form(spec, signed, answers, errors, replies, preview=True)

    @staticmethod
    def _form_spec(path: str) -> tuple[str, str, str, str]:
        return next(p for p in FORM_PAGES if p[0] == path.lstrip("/"))

    async def _form(
        self,
        spec: tuple[str, str, str, str],
        signed: SignedIn,
        values: dict[str, str],
        errors: dict[str, str],
        result: list[Reply],
        *,
        preview: bool = False,
    ) -> web.Response:
        path, label, command, submit = spec
        csrf = signed.session.csrf
        return self._render(
            "form.html",
            status=400 if errors else 200,
            title=label,
            admin=signed.admin,
            csrf=csrf,
            here=path,
            fields=self.console.form_fields(command),
            values=values,
            errors=errors,
            submit=submit,
            result=[await self._html(r, csrf, back=path) for r in result],
            result_title="Preview" if preview else "Outcome",
        )

    async def audit_page(self, request: web.Request) -> web.StreamResponse:
        signed = await self._signed_in(request)
        if signed is None:
            return self._to_sign_in(request)
        query, error = _audit_query(request)
        rows, actions = await self.console.audit_log(query)
        return self._render(
            "audit.html",
            status=400 if error else 200,
            title="Audit log",
            admin=signed.admin,
            csrf=signed.session.csrf,
            here="audit",
            query=query,
            error=error,
            rows=rows,
            actions=actions,
            csv_query=urlencode({k: v for k, v in request.query.items() if k in _AUDIT_KEYS}),
        )

    async def audit_csv(self, request: web.Request) -> web.StreamResponse:
        signed = await self._signed_in(request)
        if signed is None:
            return self._to_sign_in(request)
        query, error = _audit_query(request, limit=10_000)
        if error:
            return web.Response(status=400, text=error)
        rows, _ = await self.console.audit_log(query)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["when", "who", "action", "details"])
        for row in rows:
            # A cell that starts like a formula is kept as text by spreadsheets.
            when = row.at.isoformat(timespec="seconds")
            writer.writerow([_cell(v) for v in (when, row.who, row.action, row.detail)])
        return web.Response(
            body=out.getvalue().encode("utf-8-sig"),  # Excel reads UTF-8 with its BOM
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": 'attachment; filename="ccin-audit-log.csv"'},
        )

    async def _html(self, reply: Reply, csrf: str, level: int = 3, back: str = "./") -> Markup:
        payloads: dict[Button, str] = {}
        for row in reply.buttons:
            for button in row:
                payloads[button] = await self.console.payload(button.action)
        return html.reply(reply, payloads, csrf, level=level, back=back)

    async def _posted(self, request: web.Request) -> tuple[SignedIn, Any] | web.StreamResponse:
        signed = await self._signed_in(request)
        if signed is None:
            return self._to_sign_in(request)
        form = await request.post()
        if not self._csrf_ok(signed.session.csrf, form):
            return web.Response(status=403, text="This form had expired. Go back and try again.")
        return signed, form

    async def press(self, request: web.Request) -> web.StreamResponse:
        posted = await self._posted(request)
        if isinstance(posted, web.StreamResponse):
            return posted
        signed, form = posted
        replies = await self.console.press(
            signed, str(form.get("payload", "")), str(form.get("typed", ""))
        )
        return await self._back(request, signed, replies, form)

    async def type_line(self, request: web.Request) -> web.StreamResponse:
        posted = await self._posted(request)
        if isinstance(posted, web.StreamResponse):
            return posted
        signed, form = posted
        replies = await self.console.type(signed, str(form.get("line", "")))
        return await self._back(request, signed, replies, form)

    async def _back(
        self, request: web.Request, signed: SignedIn, replies: list[Reply], form: Any
    ) -> web.StreamResponse:
        """The page the form was on, drawn afresh with the outcome at its top. Answered here
        rather than kept for a redirect: behind a load balancer the next request may reach
        another process, and a question the bot asks must not be lost on the way."""
        back = str(form.get("back", "./"))
        if back in self.pages_back:
            return await self.pages_back[back](request, signed, replies)
        form_page = next((p for p in FORM_PAGES if p[0] == back), None)
        if form_page is not None:
            return await self._form(form_page, signed, {}, {}, replies)
        page = next((p for p in PAGES if p[0] == back), PAGES[0])
        return await self._page(request, page, result=replies)

    async def sign_out(self, request: web.Request) -> web.StreamResponse:
        posted = await self._posted(request)
        if isinstance(posted, web.StreamResponse):
            return posted
        signed, _ = posted
        await self.console.sign_out(signed)
        response = self._with_csrf(
            request, "sign_in.html", "Sign in", {"notice": "You have signed out."}
        )
        response.del_cookie(SESSION_COOKIE, path="/")
        return response

    # For the pages other modules add (group_pages.py).
    signed_in = _signed_in
    to_sign_in = _to_sign_in
    render = _render
    reply_html = _html
    posted = _posted
    csrf_ok = _csrf_ok


_AUDIT_KEYS = ("action", "from", "to")


def _audit_query(request: web.Request, limit: int = 200) -> tuple[AuditQuery, str]:
    """The filters in the address, and what is wrong with them ("" if nothing)."""
    values = {k: request.query.get(k, "").strip() for k in _AUDIT_KEYS}
    days: dict[str, date | None] = {}
    for key in ("from", "to"):
        try:
            days[key] = date.fromisoformat(values[key]) if values[key] else None
        except ValueError:
            return AuditQuery(limit=limit), f"{values[key][:20]!r} is not a day such as 2026-11-01"
    since, until = days["from"], days["to"]
    if since and until and since > until:
        return AuditQuery(limit=limit), "The first day comes after the last one"
    return AuditQuery(values["action"][:64], since, until, limit), ""


def _cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _origin(url: str) -> tuple[str, str, int | None]:
    """scheme, host and port as a browser compares them (case and default ports aside)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return (scheme, "", -1)
    if port == {"http": 80, "https": 443}.get(scheme):
        port = None
    return (scheme, (parts.hostname or "").lower(), port)


def _see_other(location: str) -> web.Response:
    """A 303 to a path relative to the page (the console may sit under a path prefix)."""
    return web.Response(status=303, headers={"Location": location})


_EXPIRED = "That page had expired. Please enter the code again"


class ConsoleListener:
    def __init__(self, runner: web.AppRunner, port: int, site: ConsoleSite) -> None:
        self._runner = runner
        self.port = port
        self.site = site

    async def stop(self) -> None:
        await self.site.settle()
        await self._runner.cleanup()


async def start_console(
    bridge: Bridge, host: str, port: int, platforms: Collection[str] = ()
) -> ConsoleListener:
    """`platforms`: the names of those running, whose previews the console shows."""
    site = ConsoleSite(bridge, platforms)
    runner = web.AppRunner(site.app(), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(f"console: cannot listen on {host}:{port} ({exc.strerror})") from None
    return ConsoleListener(runner, runner.addresses[0][1], site)

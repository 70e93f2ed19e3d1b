"""What the console's page modules use of the site (server.ConsoleSite, which imports them):
named here once rather than imported from server.py, so that no module imports another that
imports it back."""

from __future__ import annotations

from typing import Any, Protocol

import jinja2
from aiohttp import web
from markupsafe import Markup

from ccin_bridge.handlers.console import Console, SignedIn
from ccin_bridge.handlers.replies import Reply


class ConsoleSite(Protocol):
    console: Console
    platforms: frozenset[str]  # the platforms `run` started
    templates: jinja2.Environment
    pages_back: dict[str, Any]  # where a button pressed on a page shows its outcome

    async def signed_in(self, request: web.Request) -> SignedIn | None: ...
    def to_sign_in(self, request: web.Request) -> web.StreamResponse: ...
    def render(self, name: str, status: int = 200, **values: Any) -> web.Response: ...
    async def reply_html(
        self, reply: Reply, csrf: str, level: int = 3, back: str = "./"
    ) -> Markup: ...
    async def posted(self, request: web.Request) -> tuple[SignedIn, Any] | web.StreamResponse: ...
    def csrf_ok(self, expected: str | None, form: Any) -> bool: ...

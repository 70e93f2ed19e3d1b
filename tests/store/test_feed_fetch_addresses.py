"""A feed URL cannot make the bridge reach inside its own network: a host that is, or resolves
to, a loopback, private or link-local address is refused (on a redirect too), with a category
an admin can read; with `calendar_feeds.allow_private_addresses` the local fake is fetched."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ccin_bridge.scheduler import feed_fetch, feed_jobs
from ccin_bridge.scheduler.feed_fetch import REFUSED, IPAddress, fetch
from ccin_bridge.store import event_feeds
from ccin_bridge.store.db import Database
from ccin_bridge.store.importers import ImportFileError

FEED = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example//EN\r\nEND:VCALENDAR\r\n"


class _Server:
    def __init__(self, host: str, redirect_to: str | None = None) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                if redirect_to is not None:
                    self.send_response(302)
                    self.send_header("Location", redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar")
                self.send_header("Content-Length", str(len(FEED)))
                self.end_headers()
                self.wfile.write(FEED)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def local() -> Iterator[_Server]:
    server = _Server("127.0.0.1")
    yield server
    server.close()


@pytest.fixture
def public_looking(monkeypatch: pytest.MonkeyPatch) -> None:
    """The system's name lookup answering 127.0.0.1 for calendar.example.org, as a hostile
    DNS server (or one rebinding the name) would."""
    real = socket.getaddrinfo

    def lookup(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == "calendar.example.org" else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "192.168.0.1",
        "::1",
        "fd00::1",
        "::ffff:127.0.0.1",
    ],
)
def test_loopback_private_and_link_local_addresses_are_not_public(address: str) -> None:
    assert not feed_fetch.public_only(ipaddress.ip_address(address))


def test_a_public_address_is() -> None:
    assert feed_fetch.public_only(ipaddress.ip_address("8.8.8.8"))


async def test_a_public_looking_name_that_resolves_to_loopback_is_refused(
    local: _Server, public_looking: None, tmp_path: Path
) -> None:
    for url in (
        f"http://calendar.example.org:{local.port}/meetings.ics",
        f"http://localhost:{local.port}/meetings.ics",
        f"http://127.0.0.1:{local.port}/meetings.ics",
        f"http://[::1]:{local.port}/meetings.ics",
    ):
        with pytest.raises(ImportFileError) as refused:
            await fetch(url, tmp_path)
        assert str(refused.value) == f"{url}: {REFUSED}"
    assert local.requests == []  # never connected to


async def test_a_redirect_to_a_local_address_is_refused(local: _Server, tmp_path: Path) -> None:
    # The first hop is on 127.0.0.2, which this check lets through as if it were public.
    hop = _Server("127.0.0.2", redirect_to=f"http://127.0.0.1:{local.port}/meetings.ics")
    try:

        def only_the_first_hop(address: IPAddress) -> bool:
            return str(address) == "127.0.0.2"

        url = f"http://127.0.0.2:{hop.port}/meetings.ics"
        with pytest.raises(ImportFileError, match=REFUSED):
            await fetch(url, tmp_path, allowed=only_the_first_hop)
        # ... and a redirect to a name that resolves to a refused address.
        hop.close()
        hop = _Server("127.0.0.2", redirect_to=f"http://localhost:{local.port}/meetings.ics")
        url = f"http://127.0.0.2:{hop.port}/meetings.ics"
        with pytest.raises(ImportFileError, match=REFUSED):
            await fetch(url, tmp_path, allowed=only_the_first_hop)
    finally:
        hop.close()
    assert len(hop.requests) == 1 and local.requests == []


async def test_a_feed_job_refuses_a_local_feed_unless_allowed(db: Database, local: _Server) -> None:
    url = f"http://127.0.0.1:{local.port}/meetings.ics"
    async with db.session() as session:
        feed_id = await event_feeds.subscribe(session, url, 60)
    zone, now = ZoneInfo("Europe/London"), datetime(2027, 1, 1, tzinfo=UTC)
    assert await feed_jobs.refresh(db, feed_id, zone, now) is None
    async with db.read() as session:
        assert await event_feeds.last_error(session, feed_id) == f"{url}: {REFUSED}"
    assert local.requests == []
    assert await feed_jobs.refresh(db, feed_id, zone, now, allow_private=True) is not None
    assert local.requests == ["/meetings.ics"]

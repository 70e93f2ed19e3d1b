"""`ccin-bridge import events URL`: a calendar feed fetched over real HTTP from 127.0.0.1."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ccin_bridge.cli import fetch
from ccin_bridge.store.importers import ImportFileError
from tests.bridge import test_cli

# The fake feeds are on 127.0.0.1: the documented opt-in for private addresses.
PRIVATE_OK = {"CCIN_BRIDGE_CALENDAR_FEEDS__ALLOW_PRIVATE_ADDRESSES": "true"}


def run_cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return test_cli.run_cli(args, tmp_path, **PRIVATE_OK)


# Fictional meetings only: the feed stands in for a member council's published calendar.
FEED = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Exampleton//Test//EN\r\n"
    b"BEGIN:VEVENT\r\nUID:a@example.org\r\nSUMMARY:Exampleton co-op housing forum\r\n"
    b"DTSTART:20270114T100000Z\r\nDTEND:20270114T113000Z\r\nLOCATION:Online\r\nEND:VEVENT\r\n"
    b"BEGIN:VEVENT\r\nUID:b@example.org\r\nSUMMARY:Sampleford energy clinic\r\n"
    b"DTSTART:20270211T140000Z\r\nEND:VEVENT\r\n"
    b"END:VCALENDAR\r\n"
)


class _Feeds(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path in ("/feeds/exampleton.ics", "/calendar"):
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar; charset=utf-8")
            self.send_header("Content-Length", str(len(FEED)))
            self.end_headers()
            self.wfile.write(FEED)
        elif self.path == "/big.ics":
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.end_headers()  # no length: the cap must apply while reading
            self.wfile.write(FEED * 50)
        else:
            self.send_error(404, "Not Found")

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def feeds() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feeds)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.slow  # runs the real CLI
def test_events_import_from_a_feed_url_and_again_in_place(tmp_path: Path, feeds: str) -> None:
    first = run_cli(["import", "events", f"{feeds}/feeds/exampleton.ics"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("2 created, 0 updated")
    # A feed URL without a file name is read by its Content-Type; the same events update.
    again = run_cli(["import", "events", f"{feeds}/calendar"], tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("0 created") and "2 unchanged" in again.stdout
    feed = run_cli(["ics"], tmp_path)
    assert "Exampleton co-op housing forum" in feed.stdout


@pytest.mark.slow  # runs the real CLI
def test_an_unreachable_or_missing_feed_is_explained(tmp_path: Path, feeds: str) -> None:
    missing = run_cli(["import", "events", f"{feeds}/nope.ics"], tmp_path)
    assert missing.returncode == 1
    assert "cannot import" in missing.stderr and "answered 404" in missing.stderr
    closed = run_cli(["import", "events", "http://127.0.0.1:9/feed.ics"], tmp_path)
    assert closed.returncode == 1 and "cannot fetch it" in closed.stderr
    assert "Traceback" not in missing.stderr + closed.stderr


async def test_a_feed_larger_than_the_cap_is_refused(tmp_path: Path, feeds: str) -> None:
    with pytest.raises(ImportFileError, match="larger than"):
        await fetch.download(
            f"{feeds}/big.ics", tmp_path, max_bytes=len(FEED) * 10, allow_private=True
        )
    assert await asyncio.to_thread(lambda: list(tmp_path.iterdir())) == []  # nothing partial


@pytest.mark.parametrize(
    ("url", "content_type", "name"),
    [
        ("https://example.org/events/feed.ics?token=1", "", "feed.ics"),
        ("webcal://example.org/calendar", "text/calendar; charset=utf-8", "calendar.ics"),
        ("https://example.org/", "application/json", "download.json"),
        ("https://example.org/../../etc/passwd", "text/plain", "passwd"),
        ("https://example.org/a%20b%2F..%2Fc.csv", "", "a_b_.._c.csv"),
    ],
)
def test_the_local_name_keeps_the_format_and_stays_in_its_folder(
    url: str, content_type: str, name: str
) -> None:
    assert fetch.file_name(url, content_type) == name
    assert "/" not in name

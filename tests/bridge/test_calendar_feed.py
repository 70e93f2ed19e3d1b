"""The events' calendar feed on the service's HTTP listener, and the subscribe link /ics and
/events give when the listener has a public address."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import icalendar
import pytest
import yaml
from sqlalchemy import select

from ccin_bridge.handlers.commands import all_commands
from ccin_bridge.handlers.config import ConfigError, Settings, load_settings, public_url
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Event
from tests.bridge import test_health
from tests.bridge.test_health import Running
from tests.conftest import ask

REPO = Path(__file__).parents[2]


@pytest.fixture
async def listening(
    settings: Settings, sqlite_db: Database, tmp_path: Path
) -> AsyncIterator[Running]:
    """The app with its background work and the listener, as `ccin-bridge run` has them."""
    app = await test_health._app(settings, sqlite_db, tmp_path)
    async with test_health._running(app) as started:
        yield started


async def test_the_listener_serves_every_event_as_a_calendar(listening: Running) -> None:
    running = listening
    async with running.http.get("/calendar.ics") as response:
        assert response.status == 200
        assert response.content_type == "text/calendar"
        tag = response.headers["ETag"]
        body = await response.read()
    calendar = icalendar.Calendar.from_ical(body)
    titles = {str(e["SUMMARY"]) for e in calendar.walk("VEVENT")}
    assert "Officer Network monthly meeting" in titles
    assert str(calendar["X-WR-CALNAME"]) == running.app.settings.network_name
    # A calendar program asking again with the tag it has gets "not modified".
    async with running.http.get("/calendar.ics", headers={"If-None-Match": tag}) as again:
        assert again.status == 304


def _with_public_url(settings: Settings, url: str | None) -> Settings:
    http = settings.http.model_copy(update={"public_url": url})
    return settings.model_copy(update={"http": http})


async def test_ics_and_events_give_the_subscribe_link_of_a_public_listener(
    settings: Settings, sqlite_db: Database
) -> None:
    async with sqlite_db.read() as session:
        officers = await session.scalar(select(Event.id).where(Event.rrule.is_not(None)))
    public = Bridge(
        _with_public_url(settings, "https://bridge.example.org/"), sqlite_db, all_commands()
    )
    await public.start()
    (reply,) = await public.handle(ask("ics", str(officers)))
    assert "webcal://bridge.example.org/calendar.ics" in reply.plain_text
    assert "https://bridge.example.org/calendar.ics" in reply.plain_text
    (listing,) = await public.handle(ask("events"))
    assert "webcal://bridge.example.org/calendar.ics" in listing.plain_text
    private = Bridge(settings, sqlite_db, all_commands())
    await private.start()
    for command, args in (("ics", str(officers)), ("events", "")):
        (plain,) = await private.handle(ask(command, args))
        assert "webcal" not in plain.plain_text and "calendar.ics" not in plain.plain_text


@pytest.mark.parametrize("section", ["http", "console"])
@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080",
        "https://127.0.0.1",
        "http://[::1]:8080",
        "bridge.example.org",
        "http://[::1",  # an unclosed IPv6 address used to raise a NameError, not this error
        "https://bridge.example.org:99999",
        "https://ada:secret@bridge.example.org",
        "https://bridge.example.org/?from=config",
        "https://bridge.example.org/#top",
    ],
)
def test_a_public_url_links_could_not_use_is_refused(
    tmp_path: Path, section: str, url: str
) -> None:
    data = yaml.safe_load((REPO / "config.yaml").read_text())
    data.setdefault(section, {})["public_url"] = url
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=rf"{section}\.public_url"):
        load_settings(path)


def test_a_public_url_is_kept_without_its_last_slash() -> None:
    assert public_url(" https://bridge.example.org:8443/ccin/ ") == (
        "https://bridge.example.org:8443/ccin"
    )
    assert public_url("") is None


async def test_ics_of_a_superseded_event_says_it_was_replaced(
    bridge: Bridge, sqlite_db: Database
) -> None:
    async with sqlite_db.read() as session:
        superseded = await session.scalar(select(Event.id).where(Event.status == "superseded"))
    assert superseded is not None  # the 2024 LGA Conference in Harrogate, moved to Liverpool
    (reply,) = await bridge.handle(ask("ics", str(superseded)))
    assert "was replaced by a later announcement" in reply.plain_text
    assert "no date yet" not in reply.plain_text

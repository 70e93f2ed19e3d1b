"""/admins, /admin grant|revoke and /feeds in chat: the rights config gives stay config's, a
feed config names stays config's, and nobody but an admin may use them."""

from __future__ import annotations

from ccin_bridge.handlers.config import CalendarFeed, CalendarFeeds, Settings
from ccin_bridge.store import admins as store_admins
from ccin_bridge.store import feed_list
from ccin_bridge.store.db import Database
from tests.conftest import Clock
from tests.handlers.groups_support import ADMIN, ALEX_TG, make_bridge, say, texts

CONFIGURED = "telegram:555000111"
COUNCIL_FEED = "https://example.org/council.ics"


async def test_config_admins_are_listed_and_only_config_takes_them_back(
    settings: Settings, db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, db, clock, admins=[ADMIN.key, CONFIGURED])
    listing = texts(await say(bridge, ADMIN, "/admins"))
    assert f"{CONFIGURED}: not met yet; in config" in listing
    assert f"{ADMIN.key}: Ada Admin (@ada_admin); in config" in listing
    refused = texts(await say(bridge, ADMIN, f"/admin revoke {CONFIGURED}"))
    assert "is an admin by config" in refused and "nothing changed" in refused
    unknown = texts(await say(bridge, ADMIN, "/admin revoke telegram:123"))
    assert "never seen that account" in unknown
    assert "Try /admin grant PLATFORM:USER_ID" in texts(await say(bridge, ADMIN, "/admin promote"))
    # Not an admin: the command is not theirs, and nothing changes.
    said = texts(await say(bridge, ALEX_TG, f"/admin grant {ALEX_TG.key}"))
    assert "for network admins only" in said
    async with db.read() as session:
        rows = await store_admins.admins(session, [ADMIN.key, CONFIGURED])
    assert [r.key for r in rows] == [ADMIN.key, CONFIGURED]


async def test_a_feed_config_names_cannot_be_removed_in_chat(
    settings: Settings, db: Database, clock: Clock
) -> None:
    feeds = CalendarFeeds(feeds=[CalendarFeed(url=COUNCIL_FEED, every="1d")])
    bridge = await make_bridge(
        settings.model_copy(update={"calendar_feeds": feeds}), db, clock, admins=[ADMIN.key]
    )
    async with db.session() as session:
        feed_id = await feed_list.subscribe(session, COUNCIL_FEED, 1440)
    listing = texts(await say(bridge, ADMIN, "/feeds"))
    assert f"#{feed_id} {COUNCIL_FEED}: every 1d, in config; 0 events; not fetched yet" in listing
    refused = texts(await say(bridge, ADMIN, f"/feeds remove {feed_id}"))
    assert "is in config.yaml" in refused
    assert "There is no feed '99'" in texts(await say(bridge, ADMIN, "/feeds remove 99"))
    for odd in ("²", "#١٢", "⑨"):  # digits to str.isdigit, not to int()
        said = texts(await say(bridge, ADMIN, f"/feeds remove {odd}"))
        assert f"There is no feed {odd!r}" in said
    added = texts(await say(bridge, ADMIN, "/feed add webcal://example.org/other 12h"))
    assert "then every 12h" in added


async def test_an_admin_cannot_revoke_their_own_rights_however_the_key_is_spelt(
    settings: Settings, db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, db, clock, admins=[ADMIN.key])
    await say(bridge, ALEX_TG, "/start")
    assert "is now an admin" in texts(await say(bridge, ADMIN, f"/admin grant {ALEX_TG.key}"))
    for spelling in (ALEX_TG.key, f"telegram:0{ALEX_TG.user_id}", f" telegram:00{ALEX_TG.user_id}"):
        said = texts(await say(bridge, ALEX_TG, f"/admin revoke {spelling}"))
        assert "You cannot revoke your own rights" in said
    async with db.read() as session:
        rows = await store_admins.admins(session, [ADMIN.key])
    assert ALEX_TG.key in [r.key for r in rows]


async def test_admin_rights_are_not_granted_on_the_local_terminal(
    settings: Settings, db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, db, clock, admins=[ADMIN.key])
    said = texts(await say(bridge, ADMIN, "/admin grant terminal:ghost"))
    assert "admin rights are granted here only on a network platform" in said
    async with db.read() as session:
        rows = await store_admins.admins(session, [ADMIN.key])
    assert [r.key for r in rows] == [ADMIN.key]


async def test_a_feed_on_a_plainly_local_or_private_address_is_refused_when_added(
    settings: Settings, db: Database, clock: Clock
) -> None:
    # The fetch refuses them too (every address it connects to); here the admin hears at once.
    bridge = await make_bridge(settings, db, clock, admins=[ADMIN.key])
    for url in (
        "http://127.0.0.1:9/x.ics",
        "http://localhost/x.ics",
        "http://[::ffff:10.0.0.1]/x.ics",
        "http://169.254.169.254/latest/meta-data/",
        "webcal://metadata.google.internal/x",
        "http://192.168.1.20/calendar.ics",
    ):
        said = texts(await say(bridge, ADMIN, f"/feeds add {url} 6h"))
        assert "is a private or local address" in said, said
    async with db.read() as session:
        assert await feed_list.feeds(session) == []
    opted = settings.calendar_feeds.model_copy(update={"allow_private_addresses": True})
    intranet = await make_bridge(
        settings.model_copy(update={"calendar_feeds": opted}), db, clock, admins=[ADMIN.key]
    )
    said = texts(await say(intranet, ADMIN, "/feeds add http://192.168.1.20/calendar.ics 6h"))
    assert "Subscribed to feed #" in said

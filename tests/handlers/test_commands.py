"""Every starter command through the real Bridge, against a real SQLite loaded with seed data."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC, datetime

import pytest

from ccin_bridge.handlers.core import Bridge, Command, Context
from ccin_bridge.handlers.errors import GENERIC_ERROR
from ccin_bridge.handlers.identity import UserRef
from ccin_bridge.handlers.replies import BulletList, Reply
from tests.conftest import ALICE, Clock, ask


def says(replies: list[Reply]) -> str:
    return "\n".join(r.plain_text for r in replies)


def actions(replies: list[Reply]) -> list[str]:
    return [b.action for r in replies for row in r.buttons for b in row]


async def test_start_greets_by_name_with_buttons(bridge: Bridge) -> None:
    replies = await bridge.handle(ask("start"))
    assert "Hello Alice Example" in says(replies)
    assert {"groups", "events", "suppliers", "help"} <= set(actions(replies))


async def test_help_lists_the_commands(bridge: Bridge) -> None:
    text = says(await bridge.handle(ask("help")))
    for name in ("start", "groups", "join", "leave", "search", "suppliers", "events", "mydata"):
        assert f"/{name}" in text


async def test_suppliers_solicitors_finds_anthony_collins(bridge: Bridge) -> None:
    text = says(await bridge.handle(ask("suppliers", "solicitors")))
    assert "Anthony Collins Solicitors" in text
    assert "1 Apr 2020 to 28 Oct 2028" in text
    assert "Full and Associate members may use it" in text


async def test_suppliers_are_paged(bridge: Bridge) -> None:
    first = await bridge.handle(ask("suppliers"))
    assert "page 1 of 3" in says(first)
    assert actions(first) == ["suppliers --page 2"]
    last = await bridge.handle(ask("suppliers", "--page 3"))
    assert "page 3 of 3" in says(last) and actions(last) == ["suppliers --page 2"]


async def test_after_the_dps_ends_the_bridge_says_so(bridge: Bridge, clock: Clock) -> None:
    clock.now = datetime(2028, 10, 29, 9, 0, tzinfo=UTC)
    text = says(await bridge.handle(ask("suppliers")))
    assert "has now ended" in text and "may use it" not in text


async def test_search_food_finds_the_sustainable_food_lab(bridge: Bridge) -> None:
    text = says(await bridge.handle(ask("search", "food")))
    assert "Cooperative Approaches to Sustainable Food" in text


async def test_search_pages_with_buttons(bridge: Bridge) -> None:
    # Not "council": member organisations' names fill its first page.
    first = await bridge.handle(ask("search", "community"))
    assert "page 1 of" in says(first)
    assert actions(first)[0] == "search community --page 2"
    assert "search community kind:project" in actions(first)  # refine by the results' kinds
    second = await bridge.handle(ask("search", "community --page 2"))
    assert "page 2 of" in says(second)
    assert "search community --page 1" in actions(second)
    assert says(first) != says(second)


async def test_search_estimated_total_shows_no_page_count(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ccin_bridge.store import search as store_search
    from ccin_bridge.store.records import SearchPage

    real = store_search.search

    async def estimated(*args: object, **kwargs: object) -> SearchPage:
        page = await real(*args, **kwargs)  # type: ignore[arg-type]
        return dataclasses.replace(page, total=store_search.Estimate(2600))

    monkeypatch.setattr(store_search, "search", estimated)
    replies = await bridge.handle(ask("search", "council"))
    assert "about 2,600 results for “council”" in says(replies)
    assert " of " not in says(replies).split("\n")[0]  # no "page 1 of 520"
    assert actions(replies)[0] == "search council --page 2"


async def test_search_corrects_typos_and_highlights(bridge: Bridge) -> None:
    (reply,) = await bridge.handle(ask("search", "sustainible fod"))
    text = reply.plain_text
    assert "Including results for “sustainable” (you typed “sustainible”)" in text
    assert "Cooperative Approaches to Sustainable Food" in text
    (housing,) = await bridge.handle(ask("search", "houseing"))
    assert "you typed “houseing”" in housing.plain_text
    cards = [b for b in housing.blocks if isinstance(b, BulletList)]
    bold_words = {s.text for s in cards[0].items[0] if s.bold}
    assert "housing" in bold_words  # the match is highlighted in the snippet


async def test_search_filters_and_a_bad_filter(bridge: Bridge) -> None:
    text = says(await bridge.handle(ask("search", "solicitors kind:supplier")))
    assert "Anthony Collins Solicitors" in text and "DPS supplier" in text
    text = says(await bridge.handle(ask("search", "food year:someday")))
    assert "I could not use year:someday" in text and "Sustainable Food" in text


async def test_search_with_no_words_and_no_results(bridge: Bridge) -> None:
    assert "What should I look for?" in says(await bridge.handle(ask("search")))
    assert "Nothing found for “xyzzyq”" in says(await bridge.handle(ask("search", "xyzzyq")))


@pytest.mark.parametrize(
    ("today", "next_meeting"),
    [
        (datetime(2026, 11, 22, 12, tzinfo=UTC), "Tuesday 1 December 2026"),
        (datetime(2026, 12, 1, 8, tzinfo=UTC), "Tuesday 1 December 2026"),
        (datetime(2026, 12, 2, 8, tzinfo=UTC), "Tuesday 5 January 2027"),
        # 23:30 UTC on Tuesday 1 June 2027 is already 2 June in London (BST): next is July.
        (datetime(2027, 6, 1, 23, 30, tzinfo=UTC), "Tuesday 6 July 2027"),
        (datetime(2027, 6, 1, 22, 30, tzinfo=UTC), "Tuesday 1 June 2027"),
    ],
)
async def test_events_show_the_next_first_tuesday(
    bridge: Bridge, clock: Clock, today: datetime, next_meeting: str
) -> None:
    clock.now = today
    text = says(await bridge.handle(ask("events")))
    first_line = text.split("\n\n")[1].split("\n")[0]
    assert next_meeting in first_line and "Officer Network" in first_line


async def test_groups_lists_the_network_groups(bridge: Bridge) -> None:
    text = says(await bridge.handle(ask("groups")))
    for name in ("Officer Network", "Leaders and Mayors", "Co-operative Champions"):
        assert name in text


async def test_join_shows_rules_then_records_consent(bridge: Bridge) -> None:
    rules = await bridge.handle(ask("join", "officers"))
    assert "rules of engagement (version 1)" in says(rules)
    assert "Open to officers of Full and Associate member organisations." in says(rules)
    assert "join officers --accept v1" in actions(rules)
    assert "Which organisation" in says(await bridge.handle(ask("join", "officers --accept")))
    assert "join officers --role 0" in actions(await bridge.handle(ask("", "Oxford City Council")))
    done = says(await bridge.handle(ask("", "officers")))
    assert "waiting for a network admin" in done
    again = says(await bridge.handle(ask("join", "officers")))
    assert "request to join Officer Network is with the admins" in again
    data = json.loads((await bridge.handle(ask("mydata")))[0].attachment.content)  # type: ignore[union-attr]
    assert data["consents"][0]["group"] == "officers"
    assert data["memberships"][0]["status"] == "pending"


async def test_a_role_not_recognised_is_asked_again_not_turned_away(bridge: Bridge) -> None:
    await bridge.handle(ask("join", "officers --accept"))
    await bridge.handle(ask("", "Oxford City Council"))
    again = await bridge.handle(ask("", "offcer"))
    assert "I don't recognise the role “offcer”" in says(again)
    assert "join officers --role 0" in actions(again)
    assert "waiting for a network admin" in says(await bridge.handle(ask("", "officers")))
    other = await bridge.handle(ask("join", "leaders --accept"))
    assert "Which organisation" in says(other)
    await bridge.handle(ask("", "Oxford City Council"))
    assert "not open to you" in says(await bridge.handle(ask("join", "leaders --role other")))


async def test_open_group_joins_at_once_and_leave_works(bridge: Bridge) -> None:
    await bridge.handle(ask("join", "Housing --accept"))
    await bridge.handle(ask("", "Oxford City Council"))
    done = says(await bridge.handle(ask("", "officer")))
    assert "You are now a member of Housing" in done
    assert "leave housing" in actions(await bridge.handle(ask("leave")))
    left = says(await bridge.handle(ask("leave", "housing")))
    assert "You have left Housing" in left and "rejoin" in left
    assert "nothing to leave" in says(await bridge.handle(ask("leave", "housing")))


async def test_unknown_group_names_the_real_ones(bridge: Bridge) -> None:
    text = says(await bridge.handle(ask("join", "knitting")))
    assert "no group called “knitting”" in text and "officers" in text


async def test_mydata_is_private_with_a_json_file(bridge: Bridge) -> None:
    (reply,) = await bridge.handle(ask("mydata"))
    assert reply.private and reply.attachment is not None
    data = json.loads(reply.attachment.content)
    assert data["identities"][0]["user_id"] == "alice"


# --- bad input -------------------------------------------------------------------------------


async def test_unknown_command_suggests_a_close_one(bridge: Bridge) -> None:
    text = says(await bridge.handle(ask("serch", "food")))
    assert "I don't know the command /serch" in text and "/search" in text


@pytest.mark.parametrize(
    "args",
    [
        "",
        "x" * 10_000,
        "🙂🏳️‍🌈 energy",
        "\u202eevil\u202c مرحبا שלום",
        "food\x00\x07\x1b[31m",
        "\ud800",
        "'; DROP TABLE people; --",
        "\ufeffhou\u200bsing\u2060 \u200fenergy",
    ],
)
@pytest.mark.parametrize("command", ["search", "suppliers", "join", "leave", "events", "groups"])
async def test_odd_arguments_get_a_friendly_answer(bridge: Bridge, command: str, args: str) -> None:
    replies = await bridge.handle(ask(command, args))
    text = says(replies)
    assert text and GENERIC_ERROR not in text
    assert "\x00" not in text and "\u202e" not in text
    assert not {"\u200b", "\u2060", "\ufeff", "\u200f"} & set(text)


async def test_a_zero_width_space_does_not_split_a_word(bridge: Bridge) -> None:
    assert "Community-Led Housing" in says(await bridge.handle(ask("search", "hou\u200bsing")))


async def test_ten_thousand_characters_are_refused_politely(bridge: Bridge) -> None:
    text = says(await bridge.handle(ask("search", "a" * 10_000)))
    assert "10,000 characters" in text and "under 500" in text


async def test_plain_text_offers_a_search_button(bridge: Bridge) -> None:
    replies = await bridge.handle_text(lambda c, a: ask(c, a), "community energy")
    assert "search community energy" in actions(replies)


async def test_an_unexpected_error_is_logged_and_answered_kindly(
    bridge: Bridge, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(ctx: Context) -> Reply:
        raise RuntimeError("database on fire")

    bridge.commands["broken"] = Command("broken", "fails", broken)
    with caplog.at_level(logging.ERROR):
        text = says(await bridge.handle(ask("broken")))
    assert text == GENERIC_ERROR and "fire" not in text
    assert "database on fire" in caplog.text and "Traceback" in caplog.text


async def test_admin_only_commands_are_refused_to_others(bridge: Bridge) -> None:
    async def secret(ctx: Context) -> Reply:
        return Reply(())

    bridge.commands["secret"] = Command("secret", "admins", secret, admin_only=True)
    assert "for network admins only" in says(await bridge.handle(ask("secret")))
    boss = UserRef("terminal", "boss", display_name="Boss")
    bridge.grant_session_admin(boss)
    assert "admins only" not in says(await bridge.handle(ask("secret", user=boss)))


# --- buttons ----------------------------------------------------------------------------------


async def test_short_actions_travel_in_the_payload_long_ones_server_side(bridge: Bridge) -> None:
    short = await bridge.encode_action("search food --page 2", max_bytes=64)
    assert short == "=search food --page 2"
    long_action = "search " + "community wealth building " * 5
    token = await bridge.encode_action(long_action, max_bytes=64)
    assert token.startswith("#") and len(token.encode()) <= 64
    assert await bridge.decode_action(token) == long_action


async def test_a_pressed_button_runs_its_command(bridge: Bridge) -> None:
    payload = await bridge.encode_action("suppliers solicitors", max_bytes=64)
    text = says(await bridge.handle_button(lambda c, a: ask(c, a), payload))
    assert "Anthony Collins Solicitors" in text


@pytest.mark.parametrize("payload", ["#nosuchtoken", "garbage", "", "=", "=/??"])
async def test_expired_or_forged_buttons_say_so(bridge: Bridge, payload: str) -> None:
    text = says(await bridge.handle_button(lambda c, a: ask(c, a), payload))
    assert "expired" in text


def test_alice_is_the_default_user() -> None:
    assert ALICE.key == "terminal:alice"

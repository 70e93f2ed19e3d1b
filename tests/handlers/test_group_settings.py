"""Groups' settings in the store: seeded from config, edited with /group (and the console's
form, which submits to the same command), new rules asking every member to accept them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text

from ccin_bridge.handlers import group_settings, rules_acceptance
from ccin_bridge.handlers.config import Rules, Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.events import FormSubmitted
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.store import audit, erasure
from ccin_bridge.store import group_settings as store_settings
from ccin_bridge.store import groups as store_groups
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Consent, Push
from tests.conftest import Clock
from tests.handlers.groups_support import (
    ADMIN,
    ALEX_TG,
    actions,
    approve_all,
    join_officers,
    make_bridge,
    say,
    texts,
)

NEW_RULES = "Be kind.\nKeep what is said here in the group."


def _with_officers(settings: Settings, **update: object) -> Settings:
    groups = [g.model_copy(update=update) if g.slug == "officers" else g for g in settings.groups]
    return settings.model_copy(update={"groups": groups})


async def _live(bridge: Bridge) -> Settings:
    async with bridge.db.read() as session:
        return await bridge.live_settings(session)


async def test_first_start_seeds_the_store_from_config(
    settings: Settings, db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, db, clock)
    async with db.read() as session:
        stored = await store_settings.stored_groups(session)
        audiences = await store_settings.stored_audiences(session)
    officers = settings.group("officers")
    assert officers is not None
    row = stored["officers"]
    assert row.description == officers.description
    assert row.join_policy == officers.join_policy
    assert row.member_types == tuple(officers.member_types)
    assert row.roles == tuple(officers.roles)
    assert (row.rules_text, row.rules_version) == (officers.rules.text, officers.rules.version)
    assert row.edited == frozenset()
    assert set(audiences) == {a.slug for a in settings.audiences}
    assert (await _live(bridge)).groups == bridge.settings.groups


async def test_unedited_settings_follow_config_and_edited_ones_keep_the_store(
    settings: Settings, db: Database, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    bridge = await make_bridge(settings, db, clock)
    said = texts(await say(bridge, ADMIN, "/group set officers description For council officers."))
    assert "Saved: description." in said
    changed = _with_officers(
        settings,
        description="From config, later",
        join_policy="open",
        rules=Rules(version=2, text="Config's second rules."),
    )
    with caplog.at_level(logging.WARNING):
        again = await make_bridge(changed, db, clock)  # a restart with another config.yaml
    officers = (await _live(again)).group("officers")
    assert officers is not None
    assert officers.description == "For council officers."  # edited: the store wins
    assert officers.join_policy == "open"  # never edited: config's, as before
    assert officers.rules == Rules(version=2, text="Config's second rules.")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "groups.officers.description" in warnings[0]
    assert "join_policy" not in warnings[0]


async def test_newer_rules_in_config_replace_rules_an_admin_edited(
    settings: Settings, db: Database, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    bridge = await make_bridge(settings, db, clock)
    await say(bridge, ADMIN, f"/group rules officers\n{NEW_RULES}")  # version 2, edited
    same = _with_officers(settings, rules=Rules(version=2, text="Config's second rules."))
    kept = (await _live(await make_bridge(same, db, clock))).group("officers")
    assert kept is not None and kept.rules == Rules(version=2, text=NEW_RULES)
    newer = _with_officers(settings, rules=Rules(version=3, text="Config's third rules."))
    with caplog.at_level(logging.INFO):
        again = await make_bridge(newer, db, clock)
    officers = (await _live(again)).group("officers")
    assert officers is not None and officers.rules == Rules(version=3, text="Config's third rules.")
    assert any("version 3 replaces the edited version 2" in r.getMessage() for r in caplog.records)
    async with db.read() as session:
        assert "rules" not in (await store_settings.stored_groups(session))["officers"].edited
    # Config decides the rules again: its next text follows at the next start.
    fourth = _with_officers(settings, rules=Rules(version=4, text="Config's fourth rules."))
    officers = (await _live(await make_bridge(fourth, db, clock))).group("officers")
    assert officers is not None and officers.rules.text == "Config's fourth rules."


async def test_set_checks_each_setting_and_saves_nothing_wrong(
    settings: Settings, db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, db, clock)
    before = (await _live(bridge)).group("officers")
    for line, problem in (
        ("/group set officers join_policy maybe", "Choose open or approval"),
        ("/group set officers member_types full, gold", "“gold” is not a member type"),
        ("/group set officers roles  ", "Enter at least one role"),
        ("/group set officers colour green", "Which setting?"),
        ("/group set nowhere roles officer", "There is no group called “nowhere”"),
    ):
        assert problem in texts(await say(bridge, ADMIN, line)), line
    assert (await _live(bridge)).group("officers") == before
    said = texts(await say(bridge, ADMIN, "/group set officers member_types Full, full"))
    assert "Saved: member types." in said
    officers = (await _live(bridge)).group("officers")
    assert officers is not None and officers.member_types == ["full"]
    refused = texts(await say(bridge, ALEX_TG, "/group set officers roles anyone"))
    assert "for network admins only" in refused


async def test_eligibility_edited_in_store_is_what_joining_checks(
    settings: Settings, db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, db, clock)
    await say(bridge, ADMIN, "/group set officers roles librarian")
    await say(bridge, ALEX_TG, "/join officers")
    await say(bridge, ALEX_TG, "/join officers --accept")
    await say(bridge, ALEX_TG, "Oxford City Council")
    assert "I don't recognise the role “officers”" in texts(await say(bridge, ALEX_TG, "officers"))
    assert "waiting for a network admin" in texts(await say(bridge, ALEX_TG, "librarian"))


async def test_new_rules_bump_the_version_and_ask_every_member(
    settings: Settings, db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, db, clock)
    await join_officers(bridge, ALEX_TG)
    await approve_all(bridge)
    said = texts(await say(bridge, ADMIN, f"/group rules officers\n{NEW_RULES}"))
    assert "now version 2; 1 member asked to accept them" in said
    async with db.read() as session:
        asks = [p for p in await session.scalars(select(Push).where(Push.title == "Rules changed"))]
        assert len(asks) == 1 and "Keep what is said here" in str(asks[0].payload)
        entries = await audit.entries(session, action="group.rules")
        assert entries[0].detail == {"group": "officers", "rules_version": 2}
        assert await store_groups.rules_version(session, "officers") == 2
    shown = texts(await say(bridge, ADMIN, "/group show officers"))
    assert "Alex Example [#" in shown and "asked on" in shown
    thanked = texts(await say(bridge, ALEX_TG, "/join officers --accept v2"))
    assert "Thank you for accepting version 2" in thanked
    assert "accepted version 2" in texts(await say(bridge, ADMIN, "/group show officers"))
    # The same text again is no new version.
    again = texts(await say(bridge, ADMIN, f"/group rules officers {NEW_RULES}"))
    assert "Nothing changed" in again


async def _accepted(db: Database) -> int | None:
    async with db.read() as session:
        (alex,) = await store_groups.members(session, "officers", ["active"])
        return alex.accepted_version


async def test_an_old_accept_button_accepts_nothing_and_shows_the_current_rules(
    settings: Settings, db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, db, clock)
    await join_officers(bridge, ALEX_TG)
    await approve_all(bridge)
    await say(bridge, ADMIN, f"/group rules officers\n{NEW_RULES}")
    async with db.read() as session:
        (ask,) = await session.scalars(select(Push).where(Push.title == "Rules changed"))
    assert "join officers --accept v2" in str(ask.payload)  # the version asked about
    await say(bridge, ADMIN, "/group rules officers\nThird rules: be brief.")
    old = await say(bridge, ALEX_TG, "/join officers --accept v2")  # the v2 message's button
    said = texts(old)
    assert "changed since that message; nothing was accepted" in said
    assert "Third rules: be brief." in said and "(version 3)" in said
    assert await _accepted(db) == 1
    typed = await say(bridge, ALEX_TG, "/join officers --accept")  # typed: read them first
    assert "Third rules: be brief." in texts(typed) and await _accepted(db) == 1
    assert "join officers --accept v3" in actions(typed)
    thanked = texts(await say(bridge, ALEX_TG, "/join officers --accept v3"))
    assert "Thank you for accepting version 3" in thanked and await _accepted(db) == 3


async def test_an_old_accept_button_does_not_join_under_newer_rules(
    settings: Settings, db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, db, clock)
    assert "join officers --accept v1" in actions(await say(bridge, ALEX_TG, "/join officers"))
    await say(bridge, ADMIN, "/group rules officers\nSecond rules.")
    said = texts(await say(bridge, ALEX_TG, "/join officers --accept v1"))
    assert "changed since that message" in said and "Second rules." in said
    assert "Which organisation" not in said  # the rules step is asked again


async def test_the_reminder_names_the_version_and_offers_leaving(
    settings: Settings, db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, db, clock)
    await join_officers(bridge, ALEX_TG)
    await approve_all(bridge)
    await say(bridge, ADMIN, f"/group rules officers\n{NEW_RULES}")
    async with db.session() as session:
        live = await bridge.live_settings(session)
        later = clock() + rules_acceptance.REMIND_AFTER
        assert await rules_acceptance.ask(session, live, later) == 1
    async with db.read() as session:
        (reminder,) = await session.scalars(select(Push).where(Push.title == "Rules reminder"))
    assert "join officers --accept v2" in str(reminder.payload)
    assert "leave officers" in str(reminder.payload)


async def test_rules_without_text_show_them_and_how_to_replace_them(
    settings: Settings, db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, db, clock)
    said = texts(await say(bridge, ADMIN, "/group rules officers"))
    assert "version 1" in said and "That makes version 2" in said


async def test_the_console_form_saves_all_or_nothing_through_the_command(
    settings: Settings, db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, db, clock)
    await say(bridge, ADMIN, "/help")
    chat = ChatRef("telegram", "console-1")
    wrong = await bridge.dispatch(
        FormSubmitted(
            ADMIN,
            chat,
            "group",
            {"group": "officers", "description": "New words", "member_types": "", "rules": "x"},
        )
    )
    assert wrong.form is not None and wrong.form.errors == {
        "member_types": "Choose at least one member type"
    }
    officers = (await _live(bridge)).group("officers")
    assert officers is not None and officers.description != "New words"
    right = await bridge.dispatch(
        FormSubmitted(
            ADMIN,
            chat,
            "group",
            {
                "group": "officers",
                "description": "New words",
                "join_policy": "open",
                "member_types": "full",
                "roles": "officer, manager",
                "rules": NEW_RULES,
            },
        )
    )
    assert right.form is not None and right.form.errors == {} and right.form.taken
    officers = (await _live(bridge)).group("officers")
    assert officers is not None
    assert (officers.description, officers.join_policy) == ("New words", "open")
    assert (officers.member_types, officers.roles) == (["full"], ["officer", "manager"])
    assert officers.rules == Rules(version=2, text=NEW_RULES)
    async with db.read() as session:
        edits = await audit.entries(session, action="group.edit")
    assert edits[0].detail["settings"] == "description, join_policy, member_types, roles"


async def test_erasure_takes_their_acceptances(
    settings: Settings, db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, db, clock)
    await join_officers(bridge, ALEX_TG)
    await approve_all(bridge)
    await say(bridge, ADMIN, f"/group rules officers\n{NEW_RULES}")
    await say(bridge, ALEX_TG, "/join officers --accept v2")
    async with db.session() as session:
        person = (await store_groups.members(session, "officers", ["active"]))[0].person_id
        theirs = select(Consent).where(Consent.person_id == person)
        assert len(list(await session.scalars(theirs))) == 2
        await erasure.begin_erasure(session, person, clock())
        await erasure.finish_erasure(session, person)
    async with db.read() as session:
        assert list(await session.scalars(theirs)) == []
    assert "Alex Example" not in texts(await say(bridge, ADMIN, "/group show officers"))


async def test_an_audience_description_is_edited_and_shown_by_subscribe(
    settings: Settings, db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, db, clock)
    audience = settings.audiences[0]
    said = texts(await say(bridge, ADMIN, f"/group audience {audience.slug} Monthly, for all."))
    assert f"Saved the description of {audience.name}." in said
    live = await _live(bridge)
    assert live.audiences[0].description == "Monthly, for all."
    assert "Which audience?" in texts(await say(bridge, ADMIN, "/group audience nobody x"))
    again = await make_bridge(settings, db, clock)  # a restart keeps the edit
    assert (await _live(again)).audiences[0].description == "Monthly, for all."


async def test_an_edit_in_one_process_applies_at_once_in_another(
    settings: Settings, db: Database, clock: Clock
) -> None:
    console = await make_bridge(settings, db, clock)
    chat = await make_bridge(settings, db, clock)  # another process on the same store
    await say(console, ADMIN, "/group set officers join_policy open")
    assert "Welcome to Officer Network" in texts(await join_officers(chat, ALEX_TG))
    shown = texts(await say(chat, ALEX_TG, "/groups"))
    assert "[member]" in shown


async def test_reset_hands_a_setting_back_to_config(
    settings: Settings, db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, db, clock)
    await say(bridge, ADMIN, "/group set officers description Edited words.")
    said = texts(await say(bridge, ADMIN, "/group reset officers description"))
    assert "config.yaml's value applies again" in said
    config = settings.group("officers")
    officers = (await _live(bridge)).group("officers")
    assert config is not None and officers is not None
    assert officers.description == config.description
    assert "Which setting?" in texts(await say(bridge, ADMIN, "/group reset officers rules"))
    changed = _with_officers(settings, description="Config's newer words.")
    again = await make_bridge(changed, db, clock)  # followed again at the next start
    officers = (await _live(again)).group("officers")
    assert officers is not None and officers.description == "Config's newer words."


@contextmanager
def _selects() -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", count)


async def test_live_settings_ask_the_store_only_when_they_may_have_changed(
    settings: Settings, db: Database, clock: Clock
) -> None:
    await make_bridge(settings, db, clock)
    now = [1000.0]
    live = group_settings.LiveSettings(clock=lambda: now[0])
    async with db.read() as session:
        first = await live.get(session, settings)
    with _selects() as selects:
        async with db.read() as session:
            assert await live.get(session, settings) is first
        assert selects == []  # just built: no read at all
        now[0] += group_settings.FRESH_FOR
        async with db.read() as session:
            assert await live.get(session, settings) is first
        assert len(selects) == 1 and "settings_revision" in selects[0]  # one read, no rebuild
    # Another process's edit (its rows and the revision it raised) applies at the next check.
    async with db.session() as session:
        await session.execute(
            text("UPDATE groups SET description = 'Elsewhere.' WHERE slug = 'officers'")
        )
        await session.execute(text("UPDATE settings_revision SET revision = revision + 1"))
    async with db.read() as session:
        assert await live.get(session, settings) is first
    now[0] += group_settings.FRESH_FOR
    async with db.read() as session:
        officers = (await live.get(session, settings)).group("officers")
    assert officers is not None and officers.description == "Elsewhere."
    # This process's own edit applies at once.
    async with db.session() as session:
        await store_settings.edit_group(session, "officers", {"description": "Here."})
    async with db.read() as session:
        officers = (await live.get(session, settings)).group("officers")
    assert officers is not None and officers.description == "Here."


async def test_acceptance_reads_the_asks_in_one_query(
    settings: Settings, db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, db, clock)
    await join_officers(bridge, ALEX_TG)
    await approve_all(bridge)
    await say(bridge, ADMIN, f"/group rules officers\n{NEW_RULES}")
    with _selects() as selects:
        async with db.read() as session:
            (alex,) = await rules_acceptance.acceptance(session, "officers")
    assert alex.state == rules_acceptance.ASKED and alex.asked_at is not None
    assert len([s for s in selects if "pushes" in s]) == 1


def test_rules_drawn_with_an_indented_line_are_not_taken_for_another_admins_change(
    settings: Settings,
) -> None:
    # A form's drawn values are cleaned on their way in, as its answers are: the indent of a
    # wrapped rule is lost, and that must not read as the rules having moved since.
    group = settings.groups[0]
    rules = "1. Share practice with fellow officers; use the thematic\n   groups for deep dives."
    group = group.model_copy(update={"rules": Rules(version=1, text=rules)})
    drawn = rules.replace("\n   ", "\n")
    kept, moved = group_settings.changed_since_drawn(
        group, {"rules": "New rules.", group_settings.DRAWN + "rules": drawn}
    )
    assert (kept, moved) == ({"rules": "New rules."}, {})

"""Each group's own rules; the role given when joining belongs to that membership; a refusal
suggests only groups the person could still join."""

from __future__ import annotations

import pytest

from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.store import groups as store_groups
from ccin_bridge.store.db import Database
from tests.conftest import Clock
from tests.handlers.groups_support import (
    ALEX_TG,
    approve_all,
    join_officers,
    make_bridge,
    say,
    texts,
)


def _stem(role: str) -> str:
    """`cabinet members` -> `cabinet member`; `members' staff` -> `staff`."""
    return role.replace("members' ", "").removesuffix("s")


def test_every_group_has_rules_of_its_own_that_name_who_it_is_for(settings: Settings) -> None:
    texts_by_group = {g.slug: g.rules.text for g in settings.groups}
    assert len(set(texts_by_group.values())) == len(texts_by_group)
    for group in settings.groups:
        first = group.rules.text.split("\n2.")[0].casefold()
        assert [r for r in group.roles if _stem(r).casefold() not in first] == [], group.slug
    for slug in ("leaders", "champions", "housing", "health-care", "cwb"):
        assert "officers of member councils only" not in texts_by_group[slug]


async def _join(bridge: Bridge, slug: str, organisation: str, role: str) -> str:
    await say(bridge, ALEX_TG, f"/join {slug}")
    await say(bridge, ALEX_TG, f"/join {slug} --accept")
    await say(bridge, ALEX_TG, organisation)
    return texts(await say(bridge, ALEX_TG, role))


async def test_a_second_group_keeps_the_first_groups_role(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    assert "Welcome to Housing" in await _join(
        bridge, "housing", "Oxford City Council", "councillors"
    )
    await join_officers(bridge, ALEX_TG)  # as an officer, waiting for approval
    async with bridge.db.session() as session:
        housing = await store_groups.members(session, "housing", [store_groups.ACTIVE])
        officers = await store_groups.pending_requests(session)
    assert [m.role for m in housing] == ["councillors"]
    assert [m.role for m in officers] == ["officers"]
    await approve_all(bridge)
    async with bridge.db.session() as session:
        housing = await store_groups.members(session, "housing", [store_groups.ACTIVE])
        officers = await store_groups.members(session, "officers", [store_groups.ACTIVE])
    assert [m.role for m in housing] == ["councillors"]  # approval rewrote nothing
    assert [m.role for m in officers] == ["officers"]


async def test_refusals_suggest_neither_groups_you_are_in_nor_ones_that_would_refuse_alike(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    await _join(bridge, "housing", "Oxford City Council", "officers")
    # A role the thematic groups do not list: the other thematic groups (same roles) and the
    # Officer Network (officers only, among them) would refuse it too; Housing is theirs.
    refused = await _join(bridge, "cwb", "Oxford City Council", "other")
    assert "Community Wealth Building is not open to you" in refused
    last = refused.split("You may be able to join: ")[-1] if "You may be" in refused else ""
    for name in ("Housing", "Health and Social Care", "Community Wealth Building", "Officer"):
        assert name not in last
    assert "Leaders and Mayors" in last and "Co-operative Champions" in last


@pytest.mark.parametrize(("slug", "role"), [("officers", "officers"), ("leaders", "mayors")])
async def test_an_organisation_type_refused_is_not_suggested_where_it_is_refused_too(
    settings: Settings, sqlite_db: Database, clock: Clock, slug: str, role: str
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    refused = await _join(bridge, slug, "Greenwich Leisure", role)  # an Affiliate member
    assert "is not open to you" in refused and "Affiliate member" in refused
    last = refused.split("You may be able to join: ")[-1]
    assert "Officer Network" not in last and "Leaders and Mayors" not in last
    assert "Co-operative Champions" in last

"""People, identities, memberships, consents and the personal-data export, on both backends."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from ccin_bridge.store import audit, callbacks, groups, people
from ccin_bridge.store.db import Database
from ccin_bridge.store.groups import GroupSpec
from ccin_bridge.store.models import Group, Identity


async def test_identity_is_created_once_and_refreshed(db: Database) -> None:
    async with db.session() as session:
        first = await people.touch_identity(
            session, platform="telegram", external_id="42", display_name="Ann", username="ann"
        )
    async with db.session() as session:
        again = await people.touch_identity(
            session, platform="telegram", external_id="42", display_name="Ann B", username=None
        )
        other = await people.touch_identity(
            session, platform="slack", external_id="42", display_name="Ann", username=None
        )
    assert again.id == first.id
    assert other.id != first.id  # same number on another platform is another account


async def test_membership_lifecycle_and_consent(db: Database) -> None:
    async with db.session() as session:
        await groups.sync_groups(session, [GroupSpec("officers", "Officer Network", 2)])
        person = await people.touch_identity(
            session, platform="slack", external_id="U1", display_name="Bo", username=None
        )
        version = await groups.record_consent(
            session, person_id=person.id, slug="officers", platform="slack"
        )
        await groups.set_membership(
            session, person_id=person.id, slug="officers", status=groups.PENDING
        )
    async with db.session() as session:
        assert version == 2
        assert await groups.accepted_version(session, person.id, "officers") == 2
        await groups.set_membership(
            session, person_id=person.id, slug="officers", status=groups.LEFT, reason="moved on"
        )
        mine = await groups.memberships_of(session, person.id)
    assert [(m.group_slug, m.status, m.reason) for m in mine] == [("officers", "left", "moved on")]


async def test_export_holds_everything_about_the_person(db: Database) -> None:
    async with db.session() as session:
        await groups.sync_groups(session, [GroupSpec("leaders", "Leaders", 1)])
        person = await people.touch_identity(
            session, platform="telegram", external_id="7", display_name="Cy", username="cy"
        )
        await groups.record_consent(
            session, person_id=person.id, slug="leaders", platform="telegram"
        )
        await groups.set_membership(session, person_id=person.id, slug="leaders", status="active")
        await audit.record(session, actor_id=person.id, action="group.join", group="leaders")
    async with db.session() as session:
        data = await people.export_person(session, person.id)
    assert data["person"]["display_name"] == "Cy"
    assert data["identities"] == [
        {
            "platform": "telegram",
            "user_id": "7",
            "display_name": "Cy",
            "username": "cy",
            "active": True,
            "is_admin": False,
            "names_seen": ["Cy", "cy"],
        }
    ]
    assert data["memberships"][0]["group"] == "leaders"
    assert data["consents"][0]["rules_version"] == 1
    assert data["actions"][0]["action"] == "group.join"


async def test_admin_grant_and_revoke(db: Database) -> None:
    async with db.session() as session:
        granted = await people.set_admin(
            session, platform="slack", external_id="UADM", is_admin=True
        )
    async with db.session() as session:
        revoked = await people.set_admin(
            session, platform="slack", external_id="UADM", is_admin=False
        )
    assert granted is not None and revoked is not None
    assert granted.is_admin and not revoked.is_admin
    assert granted.identity_id == revoked.identity_id
    async with db.session() as session:  # an account never seen: no person is made for it
        never = await people.set_admin(
            session, platform="slack", external_id="UNEVER", is_admin=False
        )
    assert never is None


async def test_button_state_round_trip_and_purge(db: Database) -> None:
    async with db.session() as session:
        token = await callbacks.save_action(session, "search " + "x" * 200)
    async with db.session() as session:
        assert await callbacks.load_action(session, token) == "search " + "x" * 200
        assert await callbacks.purge_actions(session, timedelta(days=1)) == 0
        assert await callbacks.purge_actions(session, timedelta(seconds=-1)) == 1
        assert await callbacks.load_action(session, token) is None


async def test_a_grant_changes_nothing_else_about_the_account(db: Database) -> None:
    async with db.session() as session:
        await people.touch_identity(
            session, platform="telegram", external_id="55", display_name="Di", username="di_x"
        )
        await session.execute(update(Identity).values(active=False))  # Di blocked the bot
    async with db.session() as session:
        await people.set_admin(session, platform="telegram", external_id="55", is_admin=True)
    async with db.read() as session:
        identity = await session.scalar(select(Identity).where(Identity.external_id == "55"))
    assert identity is not None and identity.is_admin
    assert (identity.username, identity.display_name, identity.active) == ("di_x", "Di", False)


async def test_two_processes_adding_the_same_new_group_at_once_both_succeed(
    db: Database,
) -> None:
    """Both find the group missing; the second insert meets the first's row and keeps it."""
    if db.is_sqlite:
        pytest.skip("SQLite's single writer runs the two one after the other")
    spec = [GroupSpec("new-group", "A new group", 1)]
    make = async_sessionmaker(db.engine, expire_on_commit=False)
    first, second = make(), make()
    try:
        await first.begin()
        await groups.sync_groups(first, spec)  # inserted, not committed yet
        await second.begin()
        racing = asyncio.create_task(groups.sync_groups(second, spec))
        await asyncio.sleep(0.3)  # the second waits on the first's row in the index
        await first.commit()
        await racing
        await second.commit()
    finally:
        await first.close()
        await second.close()
    async with db.read() as session:
        found = await session.scalars(select(Group.slug).where(Group.slug == "new-group"))
        assert list(found) == ["new-group"]

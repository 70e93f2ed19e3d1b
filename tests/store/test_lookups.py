"""The store's lookups for the rooms above it: plain records and values, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ccin_bridge.store import audit, erasure, linking, outbox, people
from ccin_bridge.store.db import Database
from ccin_bridge.store.outbox import Target
from ccin_bridge.store.records import IdentityRecord, PersonName


async def test_accounts_and_people_are_found_as_records(db: Database) -> None:
    async with db.session() as session:
        ann, ann_account = await people.touch(
            session, platform="telegram", external_id="1", display_name="Ann", username="AnnB"
        )
        await people.touch_identity(
            session, platform="slack", external_id="U9", display_name="Bo", username=None
        )
        bo = await people.find_person(session, "slack", "U9")
        assert bo is not None
    async with db.session() as session:
        assert await people.find_identity(session, "telegram", "1") == IdentityRecord(
            id=ann_account,
            person_id=ann.id,
            platform="telegram",
            external_id="1",
            display_name="Ann",
            username="AnnB",
        )
        assert await people.find_identity(session, "telegram", "2") is None
        assert await people.person_id_of(session, "slack", "U9") == bo.id
        assert await people.person_id_of(session, "slack", "nobody") is None
        assert await people.people_with_handle(session, "annb") == [ann.id]
        assert await people.people_with_handle(session, "ann") == []
        assert await people.person_exists(session, ann.id)
        assert not await people.person_exists(session, ann.id + bo.id + 100)
        assert await people.person_name(session, bo.id) == PersonName(bo.id, "Bo", False)
        assert await people.display_names(session, {ann.id, bo.id, 999}) == {
            ann.id: "Ann",
            bo.id: "Bo",
        }
        on_telegram = await people.identities_on(session, "telegram", {ann.id, bo.id})
        assert [(i.platform, i.external_id) for i in on_telegram] == [("telegram", "1")]
        assert await people.identities_on(session, "telegram", set()) == []


async def test_identities_of_come_oldest_first_and_blocked_ones_can_be_left_out(
    db: Database,
) -> None:
    async with db.session() as session:
        person, first = await people.touch(
            session, platform="telegram", external_id="1", display_name="Ann", username=None
        )
        other, second = await people.touch(
            session, platform="slack", external_id="U1", display_name="Ann", username=None
        )
        await linking.merge(session, keep_id=person.id, merge_id=other.id)  # as /link does
    async with db.session() as session:
        await people.set_active(session, platform="telegram", external_id="1", active=False)
    async with db.session() as session:
        every = await people.identities_of(session, person.id)
        active = await people.identities_of(session, person.id, active_only=True)
    assert [i.id for i in every] == [first, second]
    assert [i.platform for i in every] == ["telegram", "slack"]
    assert [i.platform for i in active] == ["slack"]
    async with db.session() as session:
        await people.set_active(session, platform="telegram", external_id="1", active=True)
        again = await people.identities_of(session, person.id, active_only=True)
    assert len(again) == 2


async def test_a_person_being_erased_is_marked_forgetting(db: Database) -> None:
    now = datetime.now(UTC)
    async with db.session() as session:
        person = await people.touch_identity(
            session, platform="telegram", external_id="5", display_name="Cy", username=None
        )
        await erasure.begin_erasure(session, person.id, now)
    async with db.session() as session:
        named = await people.person_name(session, person.id)
    assert named is not None and named.forgetting


async def test_audit_counts_by_action_from_a_moment_on(db: Database) -> None:
    async with db.session() as session:
        for action in ("group.join", "group.join", "admin.remove"):
            await audit.record(session, actor_id=None, action=action)
    async with db.session() as session:
        now = datetime.now(UTC)
        counts = await audit.count_by_action(session, now - timedelta(hours=1))
        later = await audit.count_by_action(session, now + timedelta(hours=1))
    assert counts == {"group.join": 2, "admin.remove": 1}
    assert later == {}


async def test_a_keyed_push_is_found_by_its_key(db: Database) -> None:
    queued = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    async with db.session() as session:
        push_id = await outbox.create_push(
            session,
            kind="notice",
            payload={},
            targets=[Target("telegram", "1")],
            key="rules:officers:v2:1",
            now=queued,
        )
    async with db.session() as session:
        assert await outbox.push_id_for_key(session, "rules:officers:v2:1") == push_id
        assert await outbox.push_created_at(session, "rules:officers:v2:1") == queued
        assert await outbox.push_id_for_key(session, "rules:officers:v3:1") is None
        assert await outbox.push_created_at(session, "rules:officers:v3:1") is None

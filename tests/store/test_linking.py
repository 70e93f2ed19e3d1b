"""Link codes and parting an account, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ccin_bridge.store import chat_actions, link_codes, linking, people, subscriptions
from ccin_bridge.store import groups as store_groups
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import ChatAction, Identity, Person

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


async def _account(db: Database, platform: str, external_id: str) -> people.Caller:
    async with db.session() as session:
        return await people.account(
            session,
            platform=platform,
            external_id=external_id,
            display_name=external_id.title(),
            username=external_id,
            now=NOW,
        )


async def test_a_code_is_claimed_by_one_account_and_used_only_by_it(db: Database) -> None:
    issuer = await _account(db, "telegram", "100")
    first, second = await _account(db, "slack", "UFIRST"), await _account(db, "slack", "USECOND")
    async with db.session() as session:
        code, _ = await link_codes.issue(session, issuer.person.id, NOW)
    async with db.session() as session:
        typed = code.lower()[:4] + "-" + code[4:]  # as people copy it
        assert await link_codes.claim(session, typed, first.identity_id, NOW)
        assert await link_codes.claim(session, code, first.identity_id, NOW)  # again: same
        assert not await link_codes.claim(session, code, second.identity_id, NOW)
        assert not await link_codes.release(session, code, second.identity_id)
        assert not await link_codes.use(session, code, second.identity_id, NOW)
        found = await link_codes.find(session, code, NOW)
        assert found is not None and found.claimed_by == first.identity_id
        assert found.person_id == issuer.person.id
    async with db.session() as session:
        assert await link_codes.release(session, code, first.identity_id)
        assert await link_codes.claim(session, code, second.identity_id, NOW)
        later = NOW + link_codes.VALID_FOR
        assert await link_codes.find(session, code, later) is None
        assert not await link_codes.use(session, code, second.identity_id, later)
        assert await link_codes.use(session, code, second.identity_id, NOW)
        assert not await link_codes.use(session, code, second.identity_id, NOW)  # used up
        assert await link_codes.find(session, code, NOW) is None


async def test_a_new_code_cancels_a_claimed_one(db: Database) -> None:
    issuer, other = await _account(db, "telegram", "100"), await _account(db, "slack", "UOTHER")
    async with db.session() as session:
        old, _ = await link_codes.issue(session, issuer.person.id, NOW)
        assert await link_codes.claim(session, old, other.identity_id, NOW)
        await link_codes.issue(session, issuer.person.id, NOW)
        assert await link_codes.find(session, old, NOW) is None


async def test_detach_gives_the_account_its_own_copy_and_keeps_its_rights(db: Database) -> None:
    tg, slack = await _account(db, "telegram", "100"), await _account(db, "slack", "UALEX")
    async with db.session() as session:
        await store_groups.sync_groups(
            session,
            [
                store_groups.GroupSpec("officers", "Officers", 1),
                store_groups.GroupSpec("h", "H", 1),
            ],
        )
        await linking.merge(session, keep_id=tg.person.id, merge_id=slack.person.id)
        person = tg.person.id
        await store_groups.set_membership(
            session, person_id=person, slug="officers", status=store_groups.ACTIVE
        )
        await store_groups.set_membership(
            session, person_id=person, slug="h", status=store_groups.PENDING
        )
        await store_groups.record_consent(
            session, person_id=person, slug="officers", platform="telegram"
        )
        await subscriptions.set_wanted(session, person, "announcements", True)
        await subscriptions.set_wanted(session, person, "reminders", False)
        await people.set_admin(session, platform="slack", external_id="UALEX", is_admin=True)
        await chat_actions.enqueue(
            session,
            kind=chat_actions.INVITE,
            person_id=person,
            identity_id=slack.identity_id,
            group_slug="officers",
            platform="slack",
            chat_id="C1",
        )
    async with db.session() as session:
        new = await linking.detach(session, slack.identity_id)
    async with db.session() as session:
        assert (await session.get_one(Identity, slack.identity_id)).person_id == new
        assert (await session.get_one(Identity, slack.identity_id)).is_admin
        assert not (await session.get_one(Identity, tg.identity_id)).is_admin
        assert (await session.get_one(Person, new)).display_name == "Ualex"
        # The rules were accepted on Telegram: that acceptance is the other account's.
        assert await store_groups.accepted_version(session, person, "officers") == 1
        assert await store_groups.accepted_version(session, new, "officers") is None
        for who in (person, new):
            assert await subscriptions.topics_of(session, who) == {
                "announcements": True,
                "reminders": False,
            }
            officers = await store_groups.membership(session, who, "officers")
            assert officers is not None and officers.status == store_groups.ACTIVE
        # The join request still waiting is one request: it stays with the other account.
        assert await store_groups.membership(session, new, "h") is None
        pending = await store_groups.membership(session, person, "h")
        assert pending is not None and pending.status == store_groups.PENDING
        moved = await session.scalar(select(ChatAction.person_id))
        assert moved == new
        with pytest.raises(ValueError, match="only account"):
            await linking.detach(session, slack.identity_id)


async def test_codes_expire_and_are_purged(db: Database) -> None:
    issuer = await _account(db, "telegram", "100")
    async with db.session() as session:
        code, expires = await link_codes.issue(session, issuer.person.id, NOW)
        assert expires == NOW + timedelta(minutes=10)
        await link_codes.purge_expired(session, expires)
        assert await link_codes.find(session, code, NOW) is None


async def test_a_merge_voids_the_codes_either_person_had_out(db: Database) -> None:
    """A claimed code was shown as joining the issuer's accounts; once the issuer has been
    joined to someone else, confirming it would join an account nobody was shown."""
    ben, cat = await _account(db, "slack", "UBEN"), await _account(db, "telegram", "200")
    ann = await _account(db, "terminal", "ann")
    async with db.session() as session:
        code, _ = await link_codes.issue(session, ben.person.id, NOW)
        assert await link_codes.claim(session, code, cat.identity_id, NOW)
        await linking.merge(session, keep_id=ann.person.id, merge_id=ben.person.id)
    async with db.session() as session:
        assert await link_codes.find(session, code, NOW) is None
        assert not await link_codes.use(session, code, cat.identity_id, NOW)

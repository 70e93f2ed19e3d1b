"""Per-account addresses (a Teams conversation reference): kept, replaced, capped, erased."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ccin_bridge.store import addresses, erasure, people
from ccin_bridge.store.db import Database

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
REFERENCE = {"conversation": {"id": "a:1Xyz"}, "serviceUrl": "https://smba.example/uk/"}


async def _meet(db: Database, external_id: str) -> int:
    async with db.session() as session:
        caller = await people.account(
            session,
            platform="teams",
            external_id=external_id,
            display_name="Ann Example",
            username=None,
            now=NOW,
        )
        return caller.person.id


async def test_an_address_is_kept_and_replaced_for_a_known_account(db: Database) -> None:
    await _meet(db, "29:ann")
    async with db.session() as session:
        assert await addresses.remember(session, "teams", "29:ann", REFERENCE)
    async with db.read() as session:
        assert await addresses.address_of(session, "teams", "29:ann") == REFERENCE
    newer = {**REFERENCE, "serviceUrl": "https://smba.example/emea/"}
    async with db.session() as session:
        await addresses.remember(session, "teams", "29:ann", newer)
    async with db.read() as session:
        assert await addresses.address_of(session, "teams", "29:ann") == newer
        assert await addresses.address_of(session, "teams", "29:someone-else") is None


async def test_no_address_is_kept_for_an_account_the_bridge_never_met(db: Database) -> None:
    async with db.session() as session:
        assert not await addresses.remember(session, "teams", "29:stranger", REFERENCE)
    async with db.read() as session:
        assert await addresses.address_of(session, "teams", "29:stranger") is None


async def test_an_oversize_address_is_refused(db: Database) -> None:
    await _meet(db, "29:ann")
    with pytest.raises(addresses.AddressTooLarge):
        async with db.session() as session:
            await addresses.remember(session, "teams", "29:ann", {"x": "y" * 9000})


async def test_erasure_empties_the_address(db: Database) -> None:
    person_id = await _meet(db, "29:ann")
    await _meet(db, "29:bob")
    async with db.session() as session:
        await addresses.remember(session, "teams", "29:ann", REFERENCE)
        await addresses.remember(session, "teams", "29:bob", REFERENCE)
    async with db.session() as session:
        await erasure.begin_erasure(session, person_id, NOW)
    async with db.read() as session:
        assert await addresses.address_of(session, "teams", "29:ann") is None
        assert await addresses.address_of(session, "teams", "29:bob") == REFERENCE  # not his

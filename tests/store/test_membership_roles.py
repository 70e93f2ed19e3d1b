"""A membership's role moves with it when accounts are linked or one is taken apart."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store import groups, linking, people
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Identity


async def _person(session: AsyncSession, identity_id: int) -> int:
    return (await session.get_one(Identity, identity_id)).person_id


async def _join(session: AsyncSession, person_id: int, slug: str, status: str, role: str) -> None:
    await groups.set_membership(session, person_id=person_id, slug=slug, status=status)
    await groups.set_role(session, person_id=person_id, slug=slug, role=role)


async def _roles(db: Database, slug: str) -> list[str]:
    async with db.session() as session:
        rows = await groups.members(session, slug, [groups.ACTIVE, groups.PENDING])
    return sorted(r.role or "" for r in rows)


async def test_roles_survive_merging_and_detaching_accounts(db: Database) -> None:
    async with db.session() as session:
        specs = [groups.GroupSpec("housing", "Housing", 1), groups.GroupSpec("cwb", "CWB", 1)]
        await groups.sync_groups(session, specs)
        ids = []
        for external_id in ("1", "2"):
            _, identity = await people.touch(
                session, platform="telegram", external_id=external_id, display_name="Alex",
                username=None,
            )  # fmt: skip
            ids.append(identity)
        keep, gone = [await _person(session, i) for i in ids]
        await _join(session, keep, "housing", groups.PENDING, "officers")
        await _join(session, gone, "housing", groups.ACTIVE, "councillors")
        await _join(session, gone, "cwb", groups.ACTIVE, "officers")
        await linking.merge(session, keep_id=keep, merge_id=gone)
    # The active membership won and brought its role; the other group's moved along.
    assert await _roles(db, "housing") == ["councillors"]
    assert await _roles(db, "cwb") == ["officers"]
    async with db.session() as session:
        await linking.detach(session, ids[1])
    assert await _roles(db, "housing") == ["councillors", "councillors"]
    assert await _roles(db, "cwb") == ["officers", "officers"]

"""One scheduler leader per database: on PostgreSQL an advisory lock held on a connection of
its own; when the leader goes, the next try elsewhere leads. SQLite always leads."""

from __future__ import annotations

import pytest

from ccin_bridge.store.db import Database
from ccin_bridge.store.leadership import Leadership


@pytest.mark.postgres
async def test_one_process_leads_and_another_takes_over_when_it_goes(postgres_url: str) -> None:
    first_db, second_db = Database(postgres_url), Database(postgres_url)
    first, second = Leadership(first_db), Leadership(second_db)
    try:
        assert await first.try_lead()
        assert not await second.try_lead()
        assert await first.try_lead()  # still held: it goes on leading
        await first.step_down()
        assert await second.try_lead()
        assert not await first.try_lead()
    finally:
        await first.step_down()
        await second.step_down()
        await first_db.close()
        await second_db.close()


@pytest.mark.postgres
async def test_a_leader_whose_connection_was_cut_notices_and_tries_again(
    postgres_url: str,
) -> None:
    db, other_db = Database(postgres_url), Database(postgres_url)
    leader, other = Leadership(db), Leadership(other_db)
    try:
        assert await leader.try_lead()
        async with other_db.engine.connect() as admin:  # the server ends the leader's session
            from sqlalchemy import text

            await admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                    " AND granted AND pid <> pg_backend_pid()"
                )
            )
            await admin.commit()
        assert await other.try_lead()  # the lock went with the session
        assert not await leader.try_lead()  # it noticed, and the other leads now
    finally:
        await leader.step_down()
        await other.step_down()
        await db.close()
        await other_db.close()


async def test_on_sqlite_the_one_process_leads(sqlite_db: Database) -> None:
    leadership = Leadership(sqlite_db)
    assert await leadership.try_lead() and leadership.leading

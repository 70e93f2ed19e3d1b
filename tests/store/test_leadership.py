"""One scheduler leader per database: on PostgreSQL an advisory lock held on a connection of
its own; when the leader goes, the next try elsewhere leads. SQLite always leads."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import text

from ccin_bridge.store.db import Database
from ccin_bridge.store.leadership import Leader, Leadership, current_leader


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
            await admin.execute(
                text(  # this database's lock only: other tests on the server have theirs
                    "SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_database d"
                    " ON d.oid = l.database WHERE l.locktype = 'advisory' AND l.granted"
                    " AND l.pid <> pg_backend_pid() AND d.datname = current_database()"
                )
            )
            await admin.commit()
        # The lock goes with the session, which the server ends a moment after it is told to.
        async with asyncio.timeout(10):
            while True:
                if await other.try_lead():
                    break
                await asyncio.sleep(0.05)
        assert not await leader.try_lead()  # it noticed, and the other leads now
    finally:
        await leader.step_down()
        await other.step_down()
        await db.close()
        await other_db.close()


async def test_on_sqlite_the_one_process_leads(sqlite_db: Database) -> None:
    leadership = Leadership(sqlite_db)
    assert await leadership.try_lead() and leadership.leading
    async with sqlite_db.read() as session:
        leader = await current_leader(session)
    assert leader == Leader("sqlite")


@pytest.mark.postgres
async def test_who_leads_names_the_other_connections_process(postgres_url: str) -> None:
    leading_db, asking_db = Database(postgres_url), Database(postgres_url)
    leading, asking = Leadership(leading_db), Leadership(asking_db)
    try:
        async with asking_db.read() as session:
            assert await current_leader(session) is None  # nobody yet
        assert await leading.try_lead()
        assert not await asking.try_lead()
        async with asking_db.read() as session:
            leader = await current_leader(session)
            own_pid = await session.scalar(text("SELECT pg_backend_pid()"))
        assert leader is not None and leader.backend == "postgresql"
        assert leader.pid == leading.backend_pid != own_pid
        assert leader.application_name == f"ccin-bridge@{socket.gethostname()}:{os.getpid()}"
        assert leader.client_addr == "127.0.0.1"
        assert leader.backend_start is not None and leader.backend_start <= datetime.now(UTC)
        assert leader.as_dict()["pid"] == leading.backend_pid

        await leading.step_down()
        async with asking_db.read() as session:
            assert await current_leader(session) is None
    finally:
        await leading.step_down()
        await leading_db.close()
        await asking_db.close()


@pytest.mark.postgres
async def test_a_leader_of_another_database_on_the_server_does_not_count(
    postgres_server: str, postgres_url: str
) -> None:
    other_name = f"ccin_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{other_name}"')
    other_db = Database(f"{postgres_server.rsplit('/', 1)[0]}/{other_name}")
    db = Database(postgres_url)
    elsewhere, here = Leadership(other_db), Leadership(db)
    try:
        assert await elsewhere.try_lead()  # the same lock key, in the other database
        async with db.read() as session:
            assert await current_leader(session) is None
        assert await here.try_lead()  # locks are per database
    finally:
        await here.step_down()
        await elsewhere.step_down()
        await other_db.close()
        await db.close()
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{other_name}" WITH (FORCE)')


@pytest.mark.postgres
async def test_a_connection_name_in_the_url_is_kept(postgres_url: str) -> None:
    db = Database(f"{postgres_url}?application_name=ops-probe")
    leadership = Leadership(db)
    try:
        assert await leadership.try_lead()
        async with db.read() as session:
            leader = await current_leader(session)
        assert leader is not None and leader.application_name == "ops-probe"
    finally:
        await leadership.step_down()
        await db.close()

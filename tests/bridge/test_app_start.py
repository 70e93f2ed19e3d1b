"""Start-up on an existing database: the search index is brought in step with its sources."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update

from ccin_bridge.app import load, open_app
from ccin_bridge.background import Background
from ccin_bridge.handlers.config import Secrets
from ccin_bridge.store import spelling
from ccin_bridge.store.db import LATEST_REVISION
from ccin_bridge.store.models import Organisation, SearchDoc
from ccin_bridge.store.search import search

REPO = Path(__file__).resolve().parents[2]


async def test_start_up_mends_an_index_that_an_older_version_built(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    shutil.copy(REPO / "config.yaml", config)
    settings, secrets = load(config)
    app = await open_app(settings, secrets, config)  # first start: seeds and indexes
    async with app.db.session() as session:
        total = await session.scalar(select(func.count()).select_from(SearchDoc))
        # As an older index format left it: no hyphen parts in the tags, one document missing.
        await session.execute(update(SearchDoc).values(text_tags=""))
        await session.execute(
            delete(SearchDoc).where(SearchDoc.title == "Anthony Collins Solicitors")
        )
    await app.db.close()

    app = await open_app(settings, secrets, config)
    async with app.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(SearchDoc)) == total
        assert await session.scalar(select(func.count()).where(SearchDoc.text_tags == "")) == 0
        page = await search(session, "solicitors", kinds=("supplier",), limit=5)
    await app.db.close()
    assert page.hits[0].title == "Anthony Collins Solicitors"


async def test_one_shot_commands_only_build_an_empty_index(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    shutil.copy(REPO / "config.yaml", config)
    settings, secrets = load(config)
    app = await open_app(settings, secrets, config)
    async with app.db.session() as session:
        total = await session.scalar(select(func.count()).select_from(SearchDoc))
        await session.execute(update(SearchDoc).values(text_tags=""))
    await app.db.close()

    app = await open_app(settings, secrets, config, serve=False)  # e.g. `ccin-bridge jobs`
    async with app.db.session() as session:
        assert await session.scalar(select(func.count()).where(SearchDoc.text_tags != "")) == 0
        await session.execute(delete(SearchDoc))
    await app.db.close()

    app = await open_app(settings, secrets, config, serve=False)
    async with app.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(SearchDoc)) == total
    await app.db.close()


@pytest.mark.postgres
async def test_two_processes_starting_together_on_an_empty_postgresql_both_start(
    tmp_path: Path, postgres_url: str
) -> None:
    """They take turns to migrate and seed: the second finds it done (it used to crash with a
    UniqueViolation while both migrated)."""
    config = tmp_path / "config.yaml"
    shutil.copy(REPO / "config.yaml", config)
    settings, _ = load(config)
    secrets = Secrets.from_env({"DATABASE_URL": postgres_url})
    first, second = await asyncio.gather(
        open_app(settings, secrets, config), open_app(settings, secrets, config)
    )
    try:
        async with first.db.read() as session:
            assert await session.scalar(select(func.count()).select_from(Organisation))
        assert await first.db.stored_revisions() == (LATEST_REVISION,)
    finally:
        await first.db.close()
        await second.db.close()


@pytest.mark.postgres
async def test_one_process_runs_the_scheduled_jobs_and_another_takes_over(
    tmp_path: Path, postgres_url: str
) -> None:
    config = tmp_path / "config.yaml"
    shutil.copy(REPO / "config.yaml", config)
    settings, _ = load(config)
    secrets = Secrets.from_env({"DATABASE_URL": postgres_url})
    first_app = await open_app(settings, secrets, config)
    second_app = await open_app(settings, secrets, config)
    first = Background(first_app, {}, leader_check_seconds=0.05)
    second = Background(second_app, {}, leader_check_seconds=0.05)
    try:
        await first.start()
        await second.start()
        assert first.scheduler is not None and second.scheduler is None  # standing by
        await first.stop()  # the leader goes
        async with asyncio.timeout(10):
            while second.scheduler is None:  # noqa: ASYNC110 (taken over in its own task)
                await asyncio.sleep(0.05)
        assert second.scheduler.get_job("news-reminder") is not None
    finally:
        await second.stop()
        await first_app.db.close()
        await second_app.db.close()


async def test_start_up_loads_the_speller_before_the_first_search(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    shutil.copy(REPO / "config.yaml", config)
    settings, secrets = load(config)
    app = await open_app(settings, secrets, config)
    speller = spelling.loaded(str(app.db.engine.url))
    await app.db.close()
    assert speller is not None and speller.has("housing")
    assert speller.correct("houseeing") == "housing"  # small: its corrector built already

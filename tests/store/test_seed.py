"""The network's real reference data: loaded, idempotent, and traceable to the seeds."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from ccin_bridge.store import reference, seed
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Event
from tests.conftest import SEEDS

SEED_DATA = seed.SEED_DIR


def seed_yaml(name: str) -> dict[str, object]:
    data = yaml.safe_load((SEED_DATA / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


async def test_counts_match_the_data_files(db: Database) -> None:
    async with db.session() as session:
        counts = await seed.counts(session)
        by_type = await reference.organisation_counts(session)
    orgs = seed_yaml("organisations.yaml")["organisations"]
    assert isinstance(orgs, list)
    assert counts["organisations"] == len(orgs)
    assert counts["suppliers"] == 23
    assert counts["principles"] == 10
    assert counts["dps_frameworks"] == 1
    assert set(by_type) == {"full", "associate", "affiliate", "supporter"}
    assert by_type["full"] == sum(1 for o in orgs if o["type"] == "full")


async def test_seeding_twice_changes_nothing(db: Database) -> None:
    async with db.session() as session:
        before = await seed.counts(session)
    async with db.session() as session:
        after = await seed.seed(session)
    assert after == before


async def test_dps_period_and_eligibility(db: Database) -> None:
    async with db.session() as session:
        dps = await reference.dps(session)
    assert dps is not None
    assert (dps.starts_on, dps.ends_on) == (date(2020, 4, 1), date(2028, 10, 28))
    assert set(dps.eligible_member_types) == {"full", "associate"}


async def test_officer_network_meets_on_the_first_tuesday(db: Database) -> None:
    async with db.session() as session:
        rows = list(await session.scalars(select(Event).where(Event.rrule.is_not(None))))
    assert any("Officer Network" in e.title and "BYDAY=1TU" in (e.rrule or "") for e in rows)


async def test_bad_seed_file_names_the_record(tmp_path: Path) -> None:
    for path in SEED_DATA.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    data = seed_yaml("suppliers.yaml")
    data["suppliers"][3]["source"] = "made up"  # type: ignore[index]
    (tmp_path / "suppliers.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    database = Database(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    await database.upgrade()
    try:
        with pytest.raises(seed.SeedError, match=r"suppliers\[3\]\.source"):
            async with database.session() as session:
                await seed.seed(session, tmp_path)
    finally:
        await database.close()


# --- traceability: every record points at a real line of a real seed ------------------------

SOURCE = re.compile(r"^(\d{3}_[0-9a-f]+\.txt):(\d+)$")


def records() -> list[tuple[str, dict[str, object]]]:
    found: list[tuple[str, dict[str, object]]] = []
    for path in sorted(SEED_DATA.glob("*.yaml")):
        found.extend(
            (path.name, record) for record in _with_source(yaml.safe_load(path.read_text()))
        )
    return found


def _with_source(node: object) -> list[dict[str, object]]:
    if isinstance(node, dict):
        own = [node] if isinstance(node.get("source"), str) else []
        return own + [r for value in node.values() for r in _with_source(value)]
    if isinstance(node, list):
        return [r for value in node for r in _with_source(value)]
    return []


def normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.casefold())


@pytest.mark.skipif(not SEEDS.is_dir(), reason=f"seed documents not found at {SEEDS}")
def test_every_source_points_at_a_real_seed_line() -> None:
    checked = 0
    for file, record in records():
        match = SOURCE.match(str(record["source"]))
        assert match, f"{file}: bad source {record['source']!r}"
        lines = (SEEDS / match.group(1)).read_text(encoding="utf-8").splitlines()
        assert 1 <= int(match.group(2)) <= len(lines), f"{file}: {record['source']} out of range"
        checked += 1
    assert checked > 100


@pytest.mark.skipif(not SEEDS.is_dir(), reason=f"seed documents not found at {SEEDS}")
@pytest.mark.parametrize("name", ["organisations.yaml", "suppliers.yaml"])
def test_names_appear_in_the_cited_seed(name: str) -> None:
    """Members and suppliers are named in the seed near the line they cite."""
    data = seed_yaml(name)
    key = "organisations" if name == "organisations.yaml" else "suppliers"
    rows = data[key]
    assert isinstance(rows, list) and rows
    for row in rows:
        match = SOURCE.match(row["source"])
        assert match
        lines = (SEEDS / match.group(1)).read_text(encoding="utf-8").splitlines()
        at = int(match.group(2)) - 1
        window = normalise(" ".join(lines[max(0, at - 3) : at + 4]))
        first_word = normalise(row["name"].split()[0])
        assert first_word in window, f"{row['name']!r} not near {row['source']}"

"""The judged relevance set behind `python -m bench.search`: well-formed, and it cannot rot.

Every expected item must be in the seeded reference data, so a renamed project or supplier
fails here rather than silently lowering the benchmark's recall.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bench.search import (
    RELEVANCE_FILE,
    Expected,
    RelevanceSetError,
    load_relevance_set,
    recall,
    reciprocal_rank,
)
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import SearchDoc


def test_the_set_is_well_formed() -> None:
    judged = load_relevance_set()  # raises RelevanceSetError on any schema problem
    assert 15 <= len(judged) <= 40
    assert all(j.query.strip().casefold() != j.typo.strip().casefold() for j in judged)
    assert len({j.query.casefold() for j in judged}) == len(judged), "a query is repeated"


async def test_every_expected_item_is_in_the_seeded_data(sqlite_db: Database) -> None:
    async with sqlite_db.session() as session:
        rows = await session.execute(select(SearchDoc.kind, SearchDoc.title))
        indexed = {(kind, title) for kind, title in rows}
    missing = [
        f"{j.id}: {e.kind} {e.title!r}"
        for j in load_relevance_set()
        for e in j.expect
        if (e.kind, e.title) not in indexed
    ]
    assert not missing, missing


ENTRY = """queries:
  - id: food
    query: "sustainable food"
    typo: {typo}
    expect:
      - {{kind: {kind}, title: "Cooperative Approaches to Sustainable Food"}}
"""


@pytest.mark.parametrize(
    ("typo", "kind", "problem"),
    [
        ('"sustainable food"', "project", "one or two edits"),  # no typo at all
        ('"sustaimabel fod"', "project", "one or two edits"),  # three edits
        ('"sustainible food"', "policy_lab", "each expected item"),  # not a search kind
    ],
)
def test_schema_problems_are_named(tmp_path: Path, typo: str, kind: str, problem: str) -> None:
    path = tmp_path / "relevance.yaml"
    path.write_text(ENTRY.format(typo=typo, kind=kind), encoding="utf-8")
    with pytest.raises(RelevanceSetError, match=problem):
        load_relevance_set(path)


def test_a_good_minimal_set_loads(tmp_path: Path) -> None:
    path = tmp_path / "relevance.yaml"
    path.write_text(ENTRY.format(typo='"sustainible food"', kind="project"), encoding="utf-8")
    (entry,) = load_relevance_set(path)
    assert entry.expect == (Expected("project", "Cooperative Approaches to Sustainable Food"),)
    assert RELEVANCE_FILE.name == "relevance.yaml"


def test_scores() -> None:
    expect = [Expected("project", "A"), Expected("supplier", "B")]
    hits = [("project", "X"), ("supplier", "B"), ("project", "A")]
    assert recall(hits, expect) == 1.0
    assert reciprocal_rank(hits, expect) == 0.5
    assert recall([("project", "X")], expect) == 0.0
    assert reciprocal_rank([], expect) == 0.0
    # only the first page of five counts
    assert recall([("project", "X")] * 5 + [("project", "A")], expect) == 0.0

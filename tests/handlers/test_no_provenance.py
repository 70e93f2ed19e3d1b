"""Where a fact came from (seed file, line) is kept in `source` fields, never shown to people."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from ccin_bridge.handlers.core import Bridge
from ccin_bridge.store import reference, seed
from tests.conftest import Clock, ask

# A seed file's name, a "000:123" reference, "line 123", "seed 004", an editor's "Superseded:".
PROVENANCE = re.compile(
    r"\d{3}_[0-9a-f]+\.txt|\b\d{3}:\d+|\bline \d+|\bseeds?\b|Superseded:|Listed under",
    re.IGNORECASE,
)


def _strings(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """Every string in a seed file with its key path, leaving out `*source*` fields."""
    if isinstance(node, dict):
        for key, value in node.items():
            if "source" not in str(key):
                yield from _strings(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, (*path, str(index)))
    elif isinstance(node, str):
        yield ".".join(path), node


@pytest.mark.parametrize("name", sorted(p.name for p in seed.SEED_DIR.glob("*.yaml")))
def test_seed_text_outside_source_fields_names_no_provenance(name: str) -> None:
    data = yaml.safe_load((seed.SEED_DIR / name).read_text(encoding="utf-8"))
    leaks = [f"{path}: {text[:80]}" for path, text in _strings(data) if PROVENANCE.search(text)]
    assert leaks == []


async def test_events_and_their_calendar_files_name_no_provenance(
    bridge: Bridge, clock: Clock
) -> None:
    shown = []
    for year in (2019, 2020, 2024, 2025):
        clock.now = datetime(year, 1, 1, 9, tzinfo=UTC)
        shown += [r.plain_text for r in await bridge.handle(ask("events"))]
    async with bridge.db.session() as session:
        ids = [e.id for e in await reference.events(session)]
    for event_id in ids:
        for reply in await bridge.handle(ask("ics", str(event_id))):
            shown.append(reply.plain_text)
            if reply.attachment is not None:
                shown.append(reply.attachment.content.decode())
    assert "Officer Network monthly meeting" in "\n".join(shown)
    assert [line for text in shown for line in text.splitlines() if PROVENANCE.search(line)] == []


@pytest.mark.parametrize(
    "words", ["officer", "conference", "toolkit", "training", "housing", "kind:publication"]
)
async def test_search_results_name_no_provenance(bridge: Bridge, words: str) -> None:
    replies = await bridge.handle(ask("search", words))
    shown = "\n".join(r.plain_text for r in replies)
    assert "result" in shown
    assert [line for line in shown.splitlines() if PROVENANCE.search(line)] == []

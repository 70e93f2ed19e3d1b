"""/suppliers after an import: its header stays true, and the list is alphabetical whatever
the case of a name."""

from __future__ import annotations

from pathlib import Path

from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.replies import Heading, Reply
from ccin_bridge.store.importers import import_file
from tests.handlers.groups_support import ALEX_TG, say


def _heading(reply: Reply) -> str:
    return next(b.text for b in reply.blocks if isinstance(b, Heading))


async def test_an_import_changes_the_header_and_a_lower_case_name_sorts_in_place(
    bridge: Bridge, tmp_path: Path
) -> None:
    [before] = await say(bridge, ALEX_TG, "/suppliers")
    assert _heading(before) == "DPS suppliers (23, as of 31 Jul 2025), page 1 of 3"
    path = tmp_path / "suppliers.csv"
    path.write_text("name,website\naardvark co-operative services,aardvark.example\n")
    async with bridge.db.session() as session:
        await import_file(session, "suppliers", path)
    [after] = await say(bridge, ALEX_TG, "/suppliers")
    assert _heading(after) == "DPS suppliers (24), page 1 of 3"  # no longer "as of" that date
    assert (
        "The list as of 31 Jul 2025, with 1 supplier added or changed by an import since."
        in after.plain_text
    )
    names = [line for line in after.plain_text.splitlines() if "aardvark" in line]
    assert names, "a lower-case name is listed first, not after every capital"

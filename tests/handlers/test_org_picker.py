"""The join flow's organisation picker lists organisations, not individual supporters."""

from __future__ import annotations

from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.replies import Reply
from tests.conftest import ask


def says(replies: list[Reply]) -> str:
    return "\n".join(r.plain_text for r in replies)


def labels(replies: list[Reply]) -> list[str]:
    return [b.label for r in replies for row in r.buttons for b in row]


async def test_the_organisation_picker_leaves_out_individual_supporters(bridge: Bridge) -> None:
    await bridge.handle(ask("join", "housing --accept"))  # open to supporters too
    # "Barry" is in two individual supporters' names and no organisation's.
    nobody = await bridge.handle(ask("", "Barry"))
    assert "No member organisation matches “Barry”" in says(nobody)
    assert not any("Barry" in label for label in labels(nobody))
    # A supporter that is an organisation is still there (found at once, so on to the role).
    found = says(await bridge.handle(ask("", "Collaborate CIC")))
    assert "And your role?" in found

"""/search's hints, examples and filters: each suggests something that finds results, and a
filter given no value is refused rather than matching everything."""

from __future__ import annotations

import pytest

from ccin_bridge.handlers.commands import search as search_command
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.replies import Reply
from ccin_bridge.store import query as store_query
from tests.conftest import ask


def says(replies: list[Reply]) -> str:
    return "\n".join(r.plain_text for r in replies)


def actions(replies: list[Reply]) -> list[str]:
    return [b.action for r in replies for row in r.buttons for b in row]


async def results(bridge: Bridge, words: str) -> str:
    shown = says(await bridge.handle(ask("search", words)))
    assert "Nothing found" not in shown and "result" in shown, shown
    return shown


async def test_the_examples_shown_find_results(bridge: Bridge) -> None:
    help_text = says(await bridge.handle(ask("search")))
    assert search_command.EXAMPLE.removeprefix("search ") in help_text
    for example in (search_command.FIRST_EXAMPLE, search_command.EXAMPLE):
        await results(bridge, example.removeprefix("search "))
    for word in search_command.BROADER:
        await results(bridge, word)
    for name, example in search_command.FILTER_EXAMPLES.items():
        if name in ("kind", "member", "year", "category"):
            await results(bridge, example)


async def test_help_offers_only_filters_and_kinds_that_match_something(bridge: Bridge) -> None:
    help_text = says(await bridge.handle(ask("search")))
    assert "Filters: kind: member: year: category:" in help_text
    # No seeded item has a region or a principle, so neither is suggested.
    assert "region:" not in help_text and "principle:" not in help_text
    assert "case-study" not in help_text  # the seeds describe no single case study
    assert "Kinds: project, publication, resource, supplier, member" in help_text


@pytest.mark.parametrize(
    ("words", "named"),
    [
        ("kind:", "kind: needs a value"),
        ('food kind:""', "kind: needs a value"),
        ("member: Oldham", "member: needs a value"),
        ("food year:", "year: needs a value"),
        ("category:", "category: needs a value"),
        ("region:", "No item has a region yet"),
        ("principle: care", "No item has a principle yet"),
    ],
)
async def test_empty_filter_values_are_refused(bridge: Bridge, words: str, named: str) -> None:
    shown = says(await bridge.handle(ask("search", words)))
    assert named in shown
    assert "Nothing was searched" in shown and "result" not in shown


def test_empty_filters_are_parsed_as_empty_not_as_words() -> None:
    parsed = store_query.parse("kind: member:, food")
    assert parsed.empty == ("kind", "member") and parsed.words == ("food",)
    assert store_query.parse("kind:project").empty == ()
    assert store_query.parse("http://example.org note:").empty == ()


async def test_categories_recorded_from_the_seeds_filter_results(bridge: Bridge) -> None:
    care = await results(bridge, 'category:"health & social care"')
    assert "Plymouth Diabeaters" in care or "Co-operative Care Summit" in care
    housing = await results(bridge, "category:housing")
    assert "Community-Led Housing" in housing


async def test_principles_and_categories_are_shown_with_search_buttons(bridge: Bridge) -> None:
    replies = await bridge.handle(ask("principles"))
    shown = says(replies)
    assert "The network's 10 principles" in shown
    assert "3. Co-production" in shown and "10. Walking the talk" in shown
    assert "Housing — 1 item" in shown and "Young People — 1 item" in shown
    assert 'search category:"Housing"' in actions(replies)
    # No seed says which principle an item serves: no button that would find nothing.
    assert not [a for a in actions(replies) if "principle:" in a]
    for action in actions(replies):
        await results(bridge, action.removeprefix("search "))
    assert says(await bridge.handle(ask("categories"))) == shown


async def test_resources_that_are_not_funded_projects_have_their_own_kind(bridge: Bridge) -> None:
    pack = await results(bridge, "members pack")
    assert "Making the most of CCIN Membership (Members' Pack) — Network resource" in pack
    for title in ("Brand Guidelines", "CCIN Training", "Co-op Option Training"):
        shown = await results(bridge, f'"{title}" kind:resource')
        assert f"{title} — Network resource" in shown
    funded = says(await bridge.handle(ask("search", "kind:project --page 1")))
    assert "Network resource" not in funded


async def test_member_organisations_are_found_by_name_and_type(bridge: Bridge) -> None:
    shown = await results(bridge, "oldham")
    assert "Oldham Council — Member organisation: Full member of the network." in shown
    groups = await results(bridge, "opposition group kind:member")
    assert "Associate member of the network (opposition group)." in groups
    # Supporters are not members (some are individuals): not searchable as members.
    supporter = says(await bridge.handle(ask("search", '"Collaborate CIC" kind:member')))
    assert "Nothing found" in supporter


async def test_home_promises_only_what_search_finds(bridge: Bridge) -> None:
    shown = says(await bridge.handle(ask("home")))
    assert "DPS suppliers and member organisations: /search WORDS" in shown
    assert "ase studies" not in shown  # the seeds describe no single case study

"""The search message extension: Teams' compose-box search, answered with the cards of
Telegram's inline mode (projects, suppliers, publications; case studies too, though the
seeds name none) through the real SDK."""

from __future__ import annotations

import html
from typing import Any

from microsoft_agents.activity import InvokeResponse

from ccin_bridge.bots.teams.search_extension import answer
from ccin_bridge.handlers.inline import InlineCard, InlinePage
from ccin_bridge.handlers.replies import ReplyBuilder
from tests.bots.teams.conftest import CHANNEL, Teams
from tests.fakes.teams_connector import FakeConnector, invoke_problem


async def search(teams: Teams, words: str | None, skip: int = 0) -> list[dict[str, Any]]:
    parameters = (
        [{"name": "query", "value": words}]
        if words is not None
        else [{"name": "initialRun", "value": "true"}]
    )
    activity = teams.activity(
        kind="invoke",
        name="composeExtension/query",
        conversation=CHANNEL,
        value={
            "commandId": "search",
            "parameters": parameters,
            "queryOptions": {"skip": skip, "count": 25},
        },
    )
    headers = {"Authorization": "Bearer " + teams.fake.token()}
    async with teams.session.post(teams.url, json=activity, headers=headers) as answer:
        assert answer.status == 200
        body: dict[str, Any] = await answer.json()
    invoke_problem(teams.fake, body)
    result = body["composeExtension"]
    assert result["type"] == "result" and result["attachmentLayout"] == "list"
    attachments: list[dict[str, Any]] = result["attachments"]
    return attachments


async def test_search_returns_project_case_study_and_supplier_cards(
    teams: Teams, connector: FakeConnector
) -> None:
    (food,) = await search(teams, "food")
    assert food["preview"]["content"]["title"] == "Cooperative Approaches to Sustainable Food"
    assert "Sustainable Food" in food["content"]["fallbackText"]
    suppliers = await search(teams, None)  # as the extension opens: the DPS suppliers
    assert suppliers and all("DPS supplier" in a["content"]["fallbackText"] for a in suppliers), [
        a["content"]["fallbackText"][:80] for a in suppliers
    ]
    projects = await search(teams, "kind:project")
    assert projects and all(
        a["preview"]["content"]["text"].startswith("Funded project") for a in projects
    )
    (publication,) = await search(teams, "case study")
    assert publication["preview"]["content"]["text"].startswith("Publication")
    assert connector.sent == []  # an invoke is answered in its response, nothing posted


async def test_search_pages_by_teams_skip_and_escapes_previews(teams: Teams) -> None:
    first = await search(teams, "council")
    second = await search(teams, "council", skip=len(first))
    assert first and second
    titles = {a["preview"]["content"]["title"] for a in first}
    assert not titles & {a["preview"]["content"]["title"] for a in second}
    # Previews are thumbnail cards, read by Teams as HTML: every piece comes escaped.
    for attachment in [*first, *second]:
        preview = attachment["preview"]["content"]
        assert html.escape(html.unescape(preview["title"])) == preview["title"]
        assert html.escape(html.unescape(preview["text"])) == preview["text"]


def test_a_cards_title_and_description_are_escaped_in_its_preview() -> None:
    card = InlineCard(
        "x1", "<b>Ada & Co</b>", "Funded <i>project</i>", None, ReplyBuilder().para("<b>").build()
    )
    invoke = answer(InlinePage((card,))).value
    assert isinstance(invoke, InvokeResponse)
    body: Any = invoke.body
    (attachment,) = body["composeExtension"]["attachments"]
    assert attachment["preview"]["content"] == {
        "title": "&lt;b&gt;Ada &amp; Co&lt;/b&gt;",
        "text": "Funded &lt;i&gt;project&lt;/i&gt;",
    }
    # The card itself shows the text as it is (a TextRun is never read as markup).
    assert attachment["content"]["body"][0]["inlines"][0]["text"] == "<b>"

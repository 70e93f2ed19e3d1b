"""The Adaptive Cards of bots/teams/render.py, checked as the fake Bot Connector checks them."""

from __future__ import annotations

import json

from ccin_bridge.bots.teams.render import PAYLOAD_KEY, render_reply
from ccin_bridge.handlers.replies import Button, ReplyBuilder, bold, link
from tests.fakes.teams_connector import card_problem


def activity(card: dict[str, object]) -> dict[str, object]:
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }


def test_any_text_fits_teams_limits_and_is_kept_whole() -> None:
    # Long runs of characters that cost the most bytes in JSON: emoji, quotes, control chars.
    paragraph = ("🌱" * 3000) + ('"\\' * 3000) + ("\x01" * 3000) + ("plain " * 5000)
    reply = ReplyBuilder().heading("H").para(bold("Lead: "), paragraph).build()
    messages = render_reply(reply, {})
    assert len(messages) > 1
    text = ""
    for message in messages:
        body = json.dumps(activity(message.card))  # as the SDK sends it: non-ASCII escaped
        assert card_problem(activity(message.card), len(body.encode()) + 3000) is None
        text += "".join(
            run["text"] for element in message.card["body"] for run in element.get("inlines", [])
        )
    assert text == "H" + "Lead: " + paragraph


def test_buttons_go_on_the_last_card_and_links_only_when_http() -> None:
    builder = ReplyBuilder().para(link("site", "https://example.org"), link("bad", "javascript:x"))
    for n in range(40):
        builder.para("y" * 1500 + str(n))
    reply = builder.buttons(Button("Next ▶", "search x --page 2")).build()
    messages = render_reply(reply, {"search x --page 2": "c:search x --page 2"})
    *before, last = messages
    assert all("ActionSet" not in json.dumps(m.card) for m in before)
    (action_set,) = [e for e in last.card["body"] if e["type"] == "ActionSet"]
    assert action_set["actions"][0]["data"] == {PAYLOAD_KEY: "c:search x --page 2"}
    runs = messages[0].card["body"][0]["inlines"]
    assert runs[0]["selectAction"]["url"] == "https://example.org"
    assert "selectAction" not in runs[1]  # a javascript: link is shown as text only

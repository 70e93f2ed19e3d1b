"""Slack's payload text as the bridge's people, chats and command lines."""

from __future__ import annotations

import pytest

from ccin_bridge.bots.slack.client import api_base_url
from ccin_bridge.bots.slack.inbound import chat_ref, message_line, plain_text, slash_line, user_ref
from ccin_bridge.bots.slack.lru import Lru
from ccin_bridge.handlers.identity import ChatRef, UserRef

COMMANDS = {"search", "events", "help", "join"}


@pytest.mark.parametrize(
    ("slack", "typed"),
    [
        ("fish &amp; chips &lt;3 &gt;", "fish & chips <3 >"),
        ("&amp;lt;", "&lt;"),  # what the person typed literally
        ("hi <@U123|ann> in <#C42|general>", "hi @ann in #general"),
        ("<@U123> <!here> <!subteam^S1|@officers>", "@U123 @here @officers"),
        (
            "see <https://x.org/a?b=1&amp;c=2|the site> or <https://y.org>",
            "see the site or https://y.org",
        ),
        ("🍲 <mailto:a@b.org|a@b.org>", "🍲 a@b.org"),
    ],
)
def test_plain_text_undoes_slack_markup(slack: str, typed: str) -> None:
    assert plain_text(slack) == typed


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("", "/help"),
        ("   ", "/help"),
        ("help", "/help"),
        ("search food", "/search food"),
        ("/search food", "/search food"),
        ("search &lt;b&gt; &amp; 🍲", "/search <b> & 🍲"),
    ],
)
def test_slash_text_becomes_a_command_line(text: str, line: str) -> None:
    assert slash_line(text) == line


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("<@UBOT> search food", "search food"),
        ("<@UBOT|ccin>   Events", "Events"),
        ("search food <@UBOT>", "search food"),
        ("hello <@UBOT>", "hello"),
        ("what about food?", "what about food?"),
        ("/join officers", "/join officers"),
        ("<@UOTHER> search", "@UOTHER search"),
    ],
)
def test_messages_to_the_bot_lose_the_mention_and_slack_markup(text: str, line: str) -> None:
    assert message_line(text, "UBOT") == line


def test_people_and_chats() -> None:
    assert user_ref("U1", "ann") == UserRef("slack", "U1", display_name="ann", username="ann")
    assert user_ref("U1", "ann", "Ann Example").display_name == "Ann Example"
    assert user_ref("U1", None) == UserRef("slack", "U1")
    assert chat_ref("D024BE91L") == ChatRef("slack", "D024BE91L", is_private=True)
    assert chat_ref("C0GENERAL", "general").is_private is False
    assert chat_ref("G0PRIVATE", "privategroup").is_private is False
    assert chat_ref("C0X", "directmessage").is_private is True


def test_the_api_url_always_ends_with_a_slash() -> None:
    # slack-sdk's urljoin would otherwise replace the last path part with the method name.
    assert api_base_url(None) == "https://slack.com/api/"
    assert api_base_url("http://127.0.0.1:8082/api") == "http://127.0.0.1:8082/api/"
    assert api_base_url("http://127.0.0.1:8082/api/") == "http://127.0.0.1:8082/api/"


def test_the_lru_forgets_the_least_recently_used() -> None:
    seen: Lru[str, int] = Lru(2)
    seen.put("a", 1)
    seen.put("b", 2)
    assert seen.get("a") == 1  # a is now the most recent
    seen.put("c", 3)
    assert seen.get("b") is None and seen.get("a") == 1 and len(seen) == 2
    with pytest.raises(ValueError, match="capacity"):
        Lru[str, int](0)

"""Lone surrogates from a platform never cause a traceback (issue 11, item 7b).

JSON may escape half of a surrogate pair (`"\\ud800"`); Python decodes it into a str that no
database driver or HTTP body can encode as UTF-8. Names, handles and button payloads arrive
that way as easily as message text, so the neutral entry points drop them.
"""

from __future__ import annotations

import logging

import pytest

from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.identity import ChatRef, UserRef
from ccin_bridge.handlers.requests import Request, clean_user
from ccin_bridge.store import people

ODD = UserRef("telegram", "555000777", display_name="Zo\ud800e Example", username="zoe\udfff")
DM = ChatRef("telegram", "555000777", is_private=True)


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_a_request_carries_names_fit_to_store() -> None:
    request = Request(ODD, DM, "start", "f\ud800ood")
    assert request.user == UserRef(
        "telegram", "555000777", display_name="Zoe Example", username="zoe"
    )
    assert request.args == "food"
    assert clean_user(UserRef("slack", "U1", username="\ud800")).username is None


@pytest.mark.parametrize("command", ["start", "search", "mydata", "join", "groups"])
async def test_a_name_with_a_lone_surrogate_is_stored_without_it(
    bridge: Bridge, caplog: pytest.LogCaptureFixture, command: str
) -> None:
    with caplog.at_level(logging.INFO):
        replies = await bridge.handle(
            Request(ODD, DM, command, "food" if command == "search" else "")
        )
    assert replies and tracebacks(caplog) == []
    async with bridge.db.session() as session:
        person = await people.find_person(session, "telegram", ODD.user_id)
    assert person is not None and person.display_name == "Zoe Example"


@pytest.mark.parametrize(
    ("payload", "answer"),
    [
        ("#tok\ud800en", "That button has expired"),  # a token kept server-side
        ("=search f\udc00ood", "Cooperative Approaches to Sustainable Food"),  # a direct action
        ("\ud800", "That button has expired"),
    ],
)
async def test_a_button_payload_with_a_lone_surrogate_is_answered(
    bridge: Bridge, caplog: pytest.LogCaptureFixture, payload: str, answer: str
) -> None:
    with caplog.at_level(logging.INFO):
        replies = await bridge.handle_button(lambda c, a: Request(ODD, DM, c, a), payload)
    assert answer in "\n".join(r.plain_text for r in replies)
    assert tracebacks(caplog) == []


async def test_may_run_takes_an_odd_name_too(bridge: Bridge) -> None:
    assert await bridge.may_run(ODD, "broadcast") is False  # not an admin
    assert await bridge.may_run(ODD, "search") is True
    assert await bridge.may_run(ODD, "no-such-command") is False
    bridge.grant_session_admin(ODD)
    assert await bridge.may_run(ODD, "broadcast") is True

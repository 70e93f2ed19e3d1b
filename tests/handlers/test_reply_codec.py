"""Replies wait in the outbox and the inbound journal as JSON: what goes in comes out."""

from __future__ import annotations

from ccin_bridge.handlers import reply_codec
from ccin_bridge.handlers.replies import Attachment, Button, ReplyBuilder, bold, link


def test_a_reply_with_marks_round_trips() -> None:
    reply = (
        ReplyBuilder()
        .heading("Join request #7: Officer Network")
        .para(bold("Name: "), "Ada", link("site", "https://example.org"))
        .bullets([(bold("a"),), (bold("b"),)])
        .buttons(
            Button("Approve", "approve 7", "approve"),
            Button("Decline", "decline 7", "decline", "reason"),
        )
        .buttons(Button("Help", "help"))
        .build(
            private=True,
            kind="approval_request",
            attachment=Attachment("a.json", b"{}", "application/json"),
        )
    )
    assert reply_codec.decode(reply_codec.encode(reply)) == reply


def test_replies_stored_before_marks_existed_still_read() -> None:
    stored = {
        "v": 1,
        "blocks": [{"p": [{"t": "Press Send"}]}],
        "buttons": [[["Send", "broadcast --confirm"], ["Cancel", "cancel"]]],
        "private": True,
    }
    reply = reply_codec.decode(stored)
    assert reply.kind == ""
    assert [b.role for b in reply.buttons[0]] == ["", ""]
    assert reply.buttons[0][0].action == "broadcast --confirm"


def test_marks_this_version_does_not_know_are_dropped_not_fatal() -> None:
    stored = {
        "v": 1,
        "blocks": [{"h": "Later"}],
        "buttons": [[["Go", "help", "launch", "colour"]]],
        "private": False,
        "kind": "carousel",
    }
    reply = reply_codec.decode(stored)
    assert reply.kind == ""
    assert reply.buttons[0][0].role == ""
    assert reply.buttons[0][0].takes_text == "colour"

"""Replies as JSON, so a push can wait in the outbox and be rendered later on any platform."""

from __future__ import annotations

import base64
from typing import Any, cast, get_args

from ccin_bridge.handlers.replies import (
    Attachment,
    Block,
    BulletList,
    Button,
    ButtonRole,
    Heading,
    Line,
    Paragraph,
    Reply,
    ReplyKind,
    Span,
)

VERSION = 1


def encode(reply: Reply) -> dict[str, Any]:
    data: dict[str, Any] = {
        "v": VERSION,
        "blocks": [_block(b) for b in reply.blocks],
        "buttons": [[_button(b) for b in row] for row in reply.buttons],
        "private": reply.private,
    }
    if reply.kind:
        data["kind"] = reply.kind
    if reply.attachment is not None:
        a = reply.attachment
        data["attachment"] = {
            "filename": a.filename,
            "mime_type": a.mime_type,
            "content": base64.b64encode(a.content).decode("ascii"),
        }
    return data


def decode(data: dict[str, Any]) -> Reply:
    if data.get("v") != VERSION:
        raise ValueError(f"unknown reply format version {data.get('v')!r}")
    attachment = None
    if data.get("attachment"):
        a = data["attachment"]
        attachment = Attachment(a["filename"], base64.b64decode(a["content"]), a["mime_type"])
    return Reply(
        blocks=tuple(_unblock(b) for b in data["blocks"]),
        buttons=tuple(tuple(_unbutton(b) for b in row) for row in data["buttons"]),
        attachment=attachment,
        private=bool(data.get("private")),
        kind=_known(data.get("kind"), get_args(ReplyKind)),
    )


def _button(button: Button) -> list[str]:
    # [label, action], then its marks only when set: replies stored before marks existed
    # read the same.
    out = [button.label, button.action]
    if button.role or button.takes_text:
        out += [button.role, button.takes_text]
    return out


def _unbutton(data: list[str]) -> Button:
    label, action, *marks = data
    role = _known(marks[0] if marks else "", get_args(ButtonRole))
    return Button(label, action, cast(ButtonRole, role), str(marks[1]) if len(marks) > 1 else "")


def _known(value: object, allowed: tuple[str, ...]) -> Any:
    """A mark this version knows, else none: a reply queued by a newer version still renders."""
    return value if isinstance(value, str) and value in allowed else ""


def _span(span: Span) -> dict[str, Any]:
    out: dict[str, Any] = {"t": span.text}
    for flag in ("bold", "italic", "code"):
        if getattr(span, flag):
            out[flag[0]] = True
    if span.link:
        out["l"] = span.link
    return out


def _unspan(data: dict[str, Any]) -> Span:
    return Span(
        data["t"],
        bold=bool(data.get("b")),
        italic=bool(data.get("i")),
        code=bool(data.get("c")),
        link=data.get("l"),
    )


def _line(line: Line) -> list[dict[str, Any]]:
    return [_span(s) for s in line]


def _unline(data: list[dict[str, Any]]) -> Line:
    return tuple(_unspan(s) for s in data)


def _block(block: Block) -> dict[str, Any]:
    if isinstance(block, Heading):
        return {"h": block.text}
    if isinstance(block, Paragraph):
        return {"p": _line(block.spans)}
    return {"ul": [_line(item) for item in block.items]}


def _unblock(data: dict[str, Any]) -> Block:
    if "h" in data:
        return Heading(data["h"])
    if "p" in data:
        return Paragraph(_unline(data["p"]))
    return BulletList(tuple(_unline(item) for item in data["ul"]))

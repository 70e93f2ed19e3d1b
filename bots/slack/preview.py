"""Slack's messages as the admin console previews them: the very Block Kit the adapter posts
(render.py, split where it splits), drawn as a Slack message: headers, sections' mrkdwn
(`*bold*`, `_italic_`, `~strike~`, `` `code` ``, `<url|label>` links, bare addresses linked
as Slack links them), buttons and dividers. Every piece of text is escaped again."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup, escape

from ccin_bridge.bots import preview as draw
from ccin_bridge.bots.slack.render import render_reply
from ccin_bridge.handlers.replies import Reply

_TOKEN = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_KEPT = "\x00"  # brackets a link token's number while the emphasis around it is read
# Slack's emphasis hugs the words and does not run across lines.
_EMPHASIS = re.compile(r"(?<![\w`*_~])([`*_~])(?=\S)([^\n]+?)(?<=\S)\1(?![\w`*_~])")
_TAGS = {"`": "code", "*": "strong", "_": "em", "~": "s"}


def _unescape(value: str) -> str:
    return value.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mrkdwn(value: str) -> Markup:
    """A section's mrkdwn as HTML."""
    links: list[Markup] = []

    def keep(found: re.Match[str]) -> str:
        url, label = _unescape(found.group(1)), found.group(2)
        links.append(draw.link(url, _unescape(label) if label is not None else url))
        return f"{_KEPT}{len(links) - 1}{_KEPT}"

    def keep_bare(found: re.Match[str]) -> str:
        links.append(draw.link(found.group(), found.group()))
        return f"{_KEPT}{len(links) - 1}{_KEPT}"

    raw = _unescape(_TOKEN.sub(keep, value.replace(_KEPT, "")))
    raw = draw.BARE_URL.sub(keep_bare, raw)
    return _styled(raw, links)


def _styled(raw: str, links: list[Markup]) -> Markup:
    out: list[Markup] = []
    start = 0
    for found in _EMPHASIS.finditer(raw):
        out.append(_plain(raw[start : found.start()], links))
        mark, inner = found.group(1), found.group(2)
        body = _plain(inner, links) if mark == "`" else _styled(inner, links)
        tag = Markup(_TAGS[mark])
        out.append(Markup("<%s>%s</%s>") % (tag, body, tag))
        start = found.end()
    out.append(_plain(raw[start:], links))
    return Markup("").join(out)


def _plain(raw: str, links: list[Markup]) -> Markup:
    parts = raw.split(_KEPT)  # text, a link's number, text, ...
    drawn = [
        links[int(part)] if index % 2 else escape(part).replace("\n", Markup("<br>"))
        for index, part in enumerate(parts)
    ]
    return Markup("").join(drawn)


def _block(block: Mapping[str, Any]) -> Markup:
    kind = block.get("type")
    if kind == "header":
        return Markup('<p class="preview-header">%s</p>') % str(block["text"]["text"])
    if kind == "section":
        return Markup('<p class="preview-text">%s</p>') % mrkdwn(str(block["text"]["text"]))
    if kind == "context":
        texts = [mrkdwn(e["text"]) for e in block["elements"] if e.get("type") == "mrkdwn"]
        return Markup('<p class="preview-context">%s</p>') % Markup(" ").join(texts)
    if kind == "actions":
        return draw.buttons([[e["text"]["text"] for e in block["elements"]]])
    if kind == "divider":
        return Markup("<hr>")
    return Markup("")


def preview(reply: Reply) -> list[str]:
    """One fragment per message Slack would get, in order."""
    payloads = {b.action: "preview" for row in reply.buttons for b in row}
    return [
        str(Markup("").join(_block(b) for b in message.blocks))
        for message in render_reply(reply, payloads)
    ]

"""The search message extension (Teams' counterpart of Telegram's inline mode): what someone
types in the compose box's extension becomes the core's `InlineQuery`, and each card of the
page it answers becomes an Adaptive Card to insert, with a preview for the list.

The previews are thumbnail cards, whose text Teams reads as HTML: every piece is escaped.
Teams pages by `skip` and `count`; the core's offset is that `skip`.
"""

from __future__ import annotations

import html
from typing import Any

from microsoft_agents.activity import Activity, ActivityTypes, InvokeResponse
from microsoft_agents.activity.teams import MessagingExtensionQuery

from ccin_bridge.bots.teams.render import CARD_CONTENT_TYPE, render_reply
from ccin_bridge.handlers.inline import InlineCard, InlinePage

QUERY_INVOKE = "composeExtension/query"
COMMAND_ID = "search"  # the command of the app manifest's compose extension
QUERY_PARAMETER = "query"
THUMBNAIL = "application/vnd.microsoft.card.thumbnail"
MAX_PREVIEW_TITLE = 120
MAX_PREVIEW_TEXT = 200


def query_of(value: Any) -> tuple[str, str]:
    """The words typed and the core's offset (Teams' `skip`), from an invoke's value."""
    try:
        query = MessagingExtensionQuery.model_validate(value or {})
    except ValueError:
        return "", ""
    words = ""
    for parameter in query.parameters or []:
        if parameter.name == QUERY_PARAMETER and isinstance(parameter.value, str):
            words = parameter.value
    # Teams' first request as the extension opens has only `initialRun`: the default page.
    skip = query.query_options.skip if query.query_options else None
    return words, (str(skip) if isinstance(skip, int) else "")


def answer(page: InlinePage | None) -> Activity:
    """The invoke response that lists the page's cards."""
    # As plain JSON: the SDK's MessagingExtensionAttachment (1.9) insists on a contentUrl,
    # which a card given inline has not.
    attachments = [_attachment(card) for card in (page.cards if page else ())]
    result = {"type": "result", "attachmentLayout": "list", "attachments": attachments}
    body = {"composeExtension": result}
    return Activity(type=ActivityTypes.invoke_response, value=InvokeResponse(status=200, body=body))


def _attachment(card: InlineCard) -> dict[str, Any]:
    # The whole message as one card: only the first if the reply would need more.
    first = render_reply(card.message, {})[0]
    preview = {
        "contentType": THUMBNAIL,
        "content": {
            "title": html.escape(_cut(card.title, MAX_PREVIEW_TITLE) or "Untitled"),
            "text": html.escape(_cut(card.description, MAX_PREVIEW_TEXT)),
        },
    }
    return {"contentType": CARD_CONTENT_TYPE, "content": first.card, "preview": preview}


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""Deep-link payloads: a word after /start that drops someone straight into one flow.

A link such as `https://t.me/<bot>?start=join_officers` opens the chat with `/start
join_officers`. The payload is platform-neutral: any platform that can carry a word to /start
(or anyone typing it) uses the same intents.

Telegram allows only `A-Z a-z 0-9 _ -` and at most 64 characters, so a payload is
`<intent>` or `<intent>_<argument>`, split at the first underscore:

- `join_<group>`: the join flow of a group, by its slug (`join_officers`);
- `subscribe_<topic>`: a digest by its audience's slug (`subscribe_leaders`), or
  `subscribe_reminders`, `subscribe_announcements`;
- `search_<words>`: a search, its words joined by `-` or `_` (`search_community-wealth`);
- `events`: the events coming up.

Anything else is not an intent: the person gets the normal welcome and a short note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_PAYLOAD = 64  # Telegram's limit, in characters of the alphabet below
_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SEPARATORS = re.compile(r"[-_]+")

JOIN, SUBSCRIBE, SEARCH, EVENTS = "join", "subscribe", "search", "events"
# The intents and whether each takes an argument.
INTENTS = {JOIN: True, SUBSCRIBE: True, SEARCH: True, EVENTS: False}


@dataclass(frozen=True)
class Intent:
    """A command to run for the person, with its arguments as they would type them."""

    command: str
    args: str = ""


def parse(payload: str) -> Intent | None:
    """The intent a payload names, or None if it names none (unknown or malformed)."""
    payload = payload.strip()
    if not _PAYLOAD.fullmatch(payload):
        return None
    intent, _, argument = payload.partition("_")
    intent = intent.casefold()
    if intent not in INTENTS:
        return None
    if not INTENTS[intent]:
        return Intent(intent) if not argument else None
    if intent == JOIN:
        # A group's slug keeps its hyphens (`co-op-champions`).
        words = argument.casefold().strip("-_")
    else:
        words = " ".join(w for w in _SEPARATORS.split(argument) if w)
    return Intent(intent, words) if words else None


def payload(intent: str, argument: str = "") -> str:
    """The payload for an intent, for links in the newsletter or on the website; ValueError if
    it cannot be one (a character Telegram refuses, or longer than it allows)."""
    if intent not in INTENTS:
        raise ValueError(f"unknown intent {intent!r}")
    word = argument.strip() if intent == JOIN else "-".join(argument.split())
    built = f"{intent}_{word}" if word else intent
    if not _PAYLOAD.fullmatch(built) or parse(built) is None:
        raise ValueError(f"{argument!r} cannot be put in a link for {intent!r}")
    return built

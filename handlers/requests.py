"""The platform-neutral request, and cleaning of whatever text people (or platforms) send."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

from ccin_bridge.handlers.errors import UserFacingError
from ccin_bridge.handlers.forms import Form
from ccin_bridge.handlers.identity import ChatRef, UserRef

MAX_ARGS = 500  # longer than any sensible command argument, short enough to echo back safely
MAX_TEXT = 4000  # free text for commands that take it (broadcasts, news): one chat message
_COMMAND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_SURROGATES = re.compile("[\ud800-\udfff]")
# Bidi overrides and isolates can disguise text; other control characters are noise.
# Bidi overrides and isolates, direction marks, and invisible spaces and joiners that would
# split or disguise words (a zero-width space inside "hou\u200bsing"). ZWJ and ZWNJ stay: emoji
# sequences and some scripts need them.
_INVISIBLE = dict.fromkeys(
    map(
        ord,
        "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
        "\u200e\u200f\u061c\u200b\u2060\ufeff",
    )
)


@dataclass(frozen=True)
class Request:
    """One thing a person asked for, wherever they asked it."""

    user: UserRef
    chat: ChatRef
    command: str
    args: str = ""
    from_button: bool = False
    prefix: str = "/"  # how people type a command here: "/" or Slack's "/ccin "
    # A `/word` that is no command: it may answer a flow's step (Slack's `/ccin Testbury`),
    # else the person is told the command is unknown. `args` then holds the whole text.
    unknown_command: str = ""
    form: Form | None = None  # a platform's form submitted to the command's flow

    def __post_init__(self) -> None:
        # Whatever a platform sent may hold lone surrogates (valid JSON escapes, invalid text:
        # no database or HTTP body can encode them). Names are cleaned like everything people
        # type; the rest only loses what cannot be encoded.
        object.__setattr__(self, "user", clean_user(self.user))
        for name in ("command", "args", "unknown_command"):
            object.__setattr__(self, name, without_surrogates(getattr(self, name)))
        if _has_surrogates(self.chat.chat_id):
            object.__setattr__(
                self, "chat", replace(self.chat, chat_id=without_surrogates(self.chat.chat_id))
            )

    def show(self, command_line: str) -> str:
        """A command as this person would type it, e.g. `/search food` or `/ccin search food`."""
        return self.prefix + command_line


def without_surrogates(value: str) -> str:
    """`value` without lone surrogates (a valid pair cannot occur in a Python str)."""
    return _SURROGATES.sub("", value) if _has_surrogates(value) else value


def _has_surrogates(value: str) -> bool:
    return _SURROGATES.search(value) is not None


def clean_user(user: UserRef) -> UserRef:
    """A person as a platform named them, with names fit to store and show back."""
    display_name = clean_text(user.display_name)
    username = None if user.username is None else clean_text(user.username) or None
    user_id = without_surrogates(user.user_id)
    if (display_name, username, user_id) == (user.display_name, user.username, user.user_id):
        return user
    return replace(user, user_id=user_id, display_name=display_name, username=username)


def clean_text(value: str) -> str:
    """NFC-normalise, drop control and invisible formatting characters, collapse whitespace."""
    value = unicodedata.normalize("NFC", value).translate(_INVISIBLE)
    value = "".join(
        " " if ch in "\t\n\r\v\f" else ch
        for ch in value
        if ch in "\t\n\r\v\f" or unicodedata.category(ch) not in ("Cc", "Cs", "Co", "Cn")
    )
    return " ".join(value.split())


def parse_command_line(line: str) -> tuple[str, str] | None:
    """Split `/search food` (or `search food`) into ("search", "food"); None if not a command.

    A Telegram-style `@botname` suffix on the command is dropped.
    """
    line = clean_text(line)
    if not line:
        return None
    head, _, rest = line.partition(" ")
    name = head.removeprefix("/").split("@", 1)[0].casefold()
    if not _COMMAND.match(name):
        return None
    return name, rest.strip()


def clean_multiline(value: str) -> str:
    """`clean_text` that keeps line breaks: paragraphs survive, runs of blank lines do not."""
    lines = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    kept = [clean_text(line) for line in lines.split("\n")]
    text = "\n".join(kept).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", text)


def checked_args(args: str, *, free_text: bool = False) -> str:
    """Arguments cleaned and capped; `free_text` keeps line breaks and allows a message."""
    args = clean_multiline(args) if free_text else clean_text(args)
    limit = MAX_TEXT if free_text else MAX_ARGS
    if len(args) > limit:
        hint = "" if free_text else " (a few words are plenty for a search)"
        raise UserFacingError(
            f"That is {len(args):,} characters; please keep it under {limit:,}{hint}."
        )
    return args

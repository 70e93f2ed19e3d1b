"""What the core knows of Telegram (the registry's entry; no Telegram library is loaded here)."""

from __future__ import annotations

import re

from ccin_bridge.handlers.platforms import EnvVar, PlatformSpec, RunOption

DEFAULT_LISTEN = "127.0.0.1:8443"  # where the webhook server listens unless told otherwise
# ASCII only: str.isdigit() also takes "²" and other digits no platform uses.
_ID = re.compile(r"-?[0-9]+")


def user_id_problem(user_id: str) -> str | None:
    if _ID.fullmatch(user_id) and int(user_id) > 0:
        return None
    if user_id.startswith("@"):
        why = "a @handle is not an id"
    elif user_id.startswith("-") and _ID.fullmatch(user_id):
        why = "negative ids are group chats, not people"
    elif any(ch.isspace() for ch in user_id):
        why = "ids have no spaces"
    else:
        why = "ids are positive whole numbers"
    return f"Telegram user ids are numbers such as 123456789: {why}"


def chat_id(value: int | str) -> str:
    """A group's id as Telegram writes it: a whole number, negative for groups (-100…)."""
    text = str(value).strip()
    if isinstance(value, bool) or not _ID.fullmatch(text):
        raise ValueError(
            f"Telegram chat ids are whole numbers such as -1001234567890, not {value!r}"
        )
    return str(int(text))


PLATFORM = PlatformSpec(
    name="telegram",
    label="Telegram",
    group_chats=True,
    env=(
        EnvVar("TELEGRAM_BOT_TOKEN", "the bot's token from @BotFather; Telegram starts when set"),
        EnvVar("TELEGRAM_WEBHOOK_SECRET", "webhook mode: the secret Telegram sends with updates"),
        EnvVar("TELEGRAM_API_BASE_URL", "another Bot API server (tests)", secret=False),
    ),
    user_id_problem=user_id_problem,
    canonical_user_id=lambda user_id: str(int(user_id)),  # "0123" is the account 123
    chat_id=chat_id,
    example_user_id="123456",
    started_by="TELEGRAM_BOT_TOKEN",
    service="ccin_bridge.bots.telegram.adapter:TelegramBot.from_secrets",
    run_options=(
        RunOption(
            "--telegram-webhook",
            "receive Telegram updates at this public https:// URL instead of polling",
            "URL",
        ),
        RunOption(
            "--telegram-listen",
            f"where the webhook server listens (default {DEFAULT_LISTEN})",
            "HOST:PORT",
        ),
    ),
    prepare_options="ccin_bridge.bots.telegram.webhook:run_options",
    preview="ccin_bridge.bots.telegram.preview:preview",
)

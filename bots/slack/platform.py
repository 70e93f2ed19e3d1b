"""What the core knows of Slack (the registry's entry; no Slack library is loaded here)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from ccin_bridge.handlers.platforms import EnvVar, PlatformSpec

_USER = re.compile(r"[UW][A-Z0-9]+")
_CHANNEL = re.compile(r"[CG][A-Z0-9]+")
COMMAND = "/ccin"  # the slash command in slack/manifest.yaml; Slack keeps `/word` for its own


class SlackHttp(BaseModel):
    """Where the Slack Events API / slash command endpoint listens (`/slack/events`): config
    `slack_http`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=1, le=65535)


def user_id_problem(user_id: str) -> str | None:
    if _USER.fullmatch(user_id):
        return None
    if user_id != user_id.upper():
        return "Slack user ids look like U012ABCDEF; lower-case is a handle or a typo"
    return "Slack user ids look like U012ABCDEF (U or W, then capitals and digits)"


def chat_id(value: int | str) -> str:
    """A channel's id as Slack writes it: C… (or G… for an old private channel)."""
    text = str(value).strip()
    if not _CHANNEL.fullmatch(text):
        raise ValueError(f"Slack channel ids look like C012ABCDEF, not {value!r}")
    return text


PLATFORM = PlatformSpec(
    name="slack",
    label="Slack",
    command_prefix=COMMAND + " ",
    bare_commands=True,
    ephemeral=True,
    group_chats=True,
    env=(
        EnvVar("SLACK_BOT_TOKEN", "the app's bot token (xoxb-…); Slack starts when set"),
        EnvVar("SLACK_SIGNING_SECRET", "verifies Slack's HTTP requests"),
        EnvVar("SLACK_APP_TOKEN", "Socket Mode instead of HTTP (xapp-…)"),
        EnvVar("SLACK_API_URL", "another Web API endpoint (tests)", secret=False),
    ),
    user_id_problem=user_id_problem,
    chat_id=chat_id,
    example_user_id="U012ABCDEF",
    settings_key="slack_http",
    settings=SlackHttp,
    started_by="SLACK_BOT_TOKEN",
    service="ccin_bridge.bots.slack.adapter:SlackAdapter.from_secrets",
    preview="ccin_bridge.bots.slack.preview:preview",
)

"""What the core knows of Microsoft Teams (the registry's entry; no SDK is loaded here)."""

from __future__ import annotations

import re

from ccin_bridge.handlers.platforms import EnvVar, PlatformSpec

# People are known by their Entra object id (a GUID, what admins find in the Entra admin
# centre); an account without one (a guest of another kind) by its Bot Connector id (29:…).
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CONNECTOR_ID = re.compile(r"29:[A-Za-z0-9_\-]+")
MESSAGES_PATH = "/api/messages"  # on the bridge's HTTP listener (config `http`)

# The SDK's own names for the bot's Entra app registration, and the short ones the README
# documents (a short one is used when the SDK's is not set).
SDK_SETTINGS = "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__"
CLIENT_ID = SDK_SETTINGS + "CLIENTID"
CLIENT_SECRET = SDK_SETTINGS + "CLIENTSECRET"
TENANT_ID = SDK_SETTINGS + "TENANTID"
CERT_FILE = SDK_SETTINGS + "CERTPFXFILE"
ALIASES = {
    CLIENT_ID: "TEAMS_APP_ID",
    CLIENT_SECRET: "TEAMS_APP_PASSWORD",
    TENANT_ID: "TEAMS_TENANT_ID",
}


def user_id_problem(user_id: str) -> str | None:
    if _GUID.fullmatch(user_id.lower()) or _CONNECTOR_ID.fullmatch(user_id):
        return None
    return (
        "Teams user ids are Entra object ids such as 00000000-0000-0000-0000-000000000000"
        " (or Bot Connector ids, 29:…)"
    )


def canonical_user_id(user_id: str) -> str:
    text = user_id.strip()
    return text.lower() if _GUID.fullmatch(text.lower()) else text


PLATFORM = PlatformSpec(
    name="teams",
    label="Teams",
    # Commands are typed bare (the app manifest lists them); a leading "/" is taken too.
    command_prefix="",
    bare_commands=True,
    group_chats=False,  # groups bound to channels come with Graph membership (not yet)
    env=(
        EnvVar("TEAMS_APP_ID", "the bot's Entra app (client) id; Teams starts when set", False),
        EnvVar("TEAMS_APP_PASSWORD", "the app's client secret"),
        EnvVar("TEAMS_TENANT_ID", "the Entra tenant the bot serves (single-tenant)", False),
        EnvVar(CLIENT_ID, "the SDK's own name for TEAMS_APP_ID (wins when both are set)", False),
        EnvVar(CLIENT_SECRET, "the SDK's own name for TEAMS_APP_PASSWORD"),
        EnvVar(TENANT_ID, "the SDK's own name for TEAMS_TENANT_ID", False),
        EnvVar(CERT_FILE, "a certificate (.pem with its key) instead of the secret", False),
        EnvVar(
            "TEAMS_OPENID_METADATA_URL",
            "another Bot Connector OpenID metadata document (tests)",
            secret=False,
        ),
    ),
    user_id_problem=user_id_problem,
    canonical_user_id=canonical_user_id,
    example_user_id="00000000-0000-0000-0000-000000000000",
    started_by="TEAMS_APP_ID",
    service="ccin_bridge.bots.teams.adapter:TeamsAdapter.from_secrets",
)

"""Who the bot is and how Bot Connector requests are verified: the Agents SDK's own parts.

The app registration comes from the environment only, by the SDK's names
(CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID, …) or the short aliases (TEAMS_APP_ID,
TEAMS_APP_PASSWORD, TEAMS_TENANT_ID); single-tenant unless the tenant is set to `common`.

Inbound requests are verified by the SDK's JwtTokenValidator (RS256 signature against the
Bot Connector's published keys, audience = the app id, expiry and not-before with the SDK's
five minutes of clock skew), with its issuer allow-list switched on (it is opt-in there);
a token without `exp` is refused here (PyJWT checks expiry only when it is present), and
keys that cannot be fetched are an outage (`KeysUnavailable`), not a verdict on the token.
TEAMS_OPENID_METADATA_URL names another OpenID metadata document whose `jwks_uri` then
stands in for the keys addresses, which the SDK has as constants: that is how
the tests point the real validator at a local fake. Nothing else of the check changes.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from jwt import PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError
from microsoft_agents.hosting.core import OutboundHostValidator
from microsoft_agents.hosting.core.authorization import (
    AccessTokenProviderBase,
    AgentAuthConfiguration,
    AuthTypes,
    ClaimsIdentity,
)
from microsoft_agents.hosting.core.authorization.connection_manager import ConnectionManager
from microsoft_agents.hosting.core.authorization.jwt.jwt_token_validator import (
    JwtTokenValidator,
    _JwkClientCacheEntry,
    _JwkClientManager,
)

from ccin_bridge.bots.teams.platform import ALIASES, CERT_FILE, CLIENT_ID, CLIENT_SECRET, TENANT_ID
from ccin_bridge.handlers.config import ConfigError, Secrets

log = logging.getLogger(__name__)

ProviderFactory = Callable[[AgentAuthConfiguration], AccessTokenProviderBase]


def setting(secrets: Secrets, name: str) -> str | None:
    """The SDK's variable, else its short alias."""
    alias = ALIASES.get(name)
    return secrets.get(name) or (secrets.get(alias) if alias else None)


def configuration(secrets: Secrets) -> AgentAuthConfiguration:
    """The bot's connection, as the SDK's MSAL provider and validator read it."""
    client_id = setting(secrets, CLIENT_ID)
    tenant_id = setting(secrets, TENANT_ID)
    secret = setting(secrets, CLIENT_SECRET)
    certificate = secrets.get(CERT_FILE)
    if not client_id:
        raise ConfigError("TEAMS_APP_ID is not set")
    if not tenant_id:
        raise ConfigError(
            "TEAMS_TENANT_ID: required with TEAMS_APP_ID (the bot is single-tenant; "
            "`common` makes it multi-tenant)"
        )
    if not secret and not certificate:
        raise ConfigError(
            f"TEAMS_APP_PASSWORD: required with TEAMS_APP_ID (or {CERT_FILE} for a certificate)"
        )
    return AgentAuthConfiguration(
        auth_type=AuthTypes.certificate if certificate and not secret else AuthTypes.client_secret,
        client_id=client_id,
        tenant_id=tenant_id,
        client_secret=secret,
        cert_pfx_file=certificate,
        connection_name="SERVICE_CONNECTION",
        anonymous_allowed=False,
        validate_issuer=True,
    )


def connections(config: AgentAuthConfiguration, provider: ProviderFactory) -> ConnectionManager:
    """The SDK's connection manager around the one connection (MSAL's provider in a run)."""
    return ConnectionManager(
        provider_factory=provider,
        connections_configurations={"SERVICE_CONNECTION": config},
    )


class _RedirectedKeys(_JwkClientManager):
    """The SDK's JWKS cache, with the Bot Connector's keys address read from elsewhere."""

    def __init__(self, jwks_uri: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._jwks_uri = jwks_uri

    def _get_jwk_client(self, jwks_uri: str) -> _JwkClientCacheEntry:
        jwks_uri = self._jwks_uri  # whichever issuer the token names
        if jwks_uri not in self._cache:
            self._cache[jwks_uri] = _JwkClientCacheEntry(PyJWKClient(jwks_uri), threading.Lock())
        return self._cache[jwks_uri]


def host_validator(openid_metadata_url: str | None) -> OutboundHostValidator:
    """The SDK's check of an activity's serviceUrl: Microsoft's hosts only, and with another
    Bot Connector (TEAMS_OPENID_METADATA_URL) its host too. The SDK never allows a loopback
    address, so for a service on this machine (the tests') it is off, and `same_service`
    below still holds the activity to the host its token was issued for."""
    if not openid_metadata_url:
        return OutboundHostValidator(enabled=True)
    host = urlsplit(openid_metadata_url).hostname or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if host == "localhost" or (address is not None and address.is_loopback):
        return OutboundHostValidator(enabled=False)
    private = address is not None and not address.is_global
    return OutboundHostValidator([host], enabled=True, allow_private_network_addresses=private)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.casefold()
    return scheme, (parts.hostname or "").casefold(), parts.port or _DEFAULT_PORTS.get(scheme)


def same_service(claims: ClaimsIdentity, service_url: Any) -> bool:
    """Whether the activity's serviceUrl is at the origin (scheme, host, port) its token names
    (`serviceurl`), where the bot's answers will go: a token stolen from one service cannot
    send it elsewhere."""
    claimed = claims.get_claim_value("serviceurl")
    if not isinstance(claimed, str) or not isinstance(service_url, str):
        return False
    try:
        ours, theirs = _origin(claimed), _origin(service_url)
    except ValueError:  # a bad port
        return False
    return ours == theirs and ours[1] != ""


def validator_class(jwks_uri: str | None = None) -> type[JwtTokenValidator]:
    """The SDK's validator; with `jwks_uri` (from TEAMS_OPENID_METADATA_URL's document), one
    that reads every signing key from there instead."""
    if not jwks_uri:
        return JwtTokenValidator
    keys = _RedirectedKeys(jwks_uri)

    class Redirected(JwtTokenValidator):
        _jwk_client_manager = keys

    return Redirected


async def jwks_uri_of(openid_metadata_url: str) -> str:
    """The `jwks_uri` an OpenID metadata document names."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            session.get(openid_metadata_url) as answer,
        ):
            answer.raise_for_status()
            metadata: Any = await answer.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise ConfigError(
            f"TEAMS_OPENID_METADATA_URL: cannot read {openid_metadata_url} ({type(exc).__name__})"
        ) from None
    found = metadata.get("jwks_uri") if isinstance(metadata, dict) else None
    if not isinstance(found, str) or not found:
        raise ConfigError(f"TEAMS_OPENID_METADATA_URL: no jwks_uri in {openid_metadata_url}")
    return found


class KeysUnavailable(Exception):
    """The Bot Connector's signing keys cannot be fetched now: no verdict on the token."""


async def verify(
    header: str | None, config: AgentAuthConfiguration, validator: type[JwtTokenValidator]
) -> ClaimsIdentity | None:
    """The request's verified claims, or None: no, malformed, forged, expired or never
    expiring token. Raises KeysUnavailable when the keys cannot be read (an outage)."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or any(ch.isspace() for ch in token):
        return None
    try:
        claims = await validator(config).validate_token(token)
    except PyJWKClientConnectionError as exc:  # the keys' address unreachable or timing out
        log.warning("Teams: cannot fetch the Bot Connector's signing keys (%s)", exc)
        raise KeysUnavailable from exc
    except Exception as exc:  # PyJWT's errors, ValueError, a key the JWKS lacks: refusals
        log.info("Teams token refused (%s)", type(exc).__name__)
        return None
    # PyJWT checks `exp` only when the token has one: a token that never expires is refused.
    expiry = claims.claims.get("exp")
    if isinstance(expiry, bool) or not isinstance(expiry, int | float):
        log.info("Teams token refused (no expiry)")
        return None
    return claims

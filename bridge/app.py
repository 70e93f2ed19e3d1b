"""Wiring: settings + database + handlers + scheduler + whichever platforms are configured."""

from __future__ import annotations

import gc
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.exc import DBAPIError, OperationalError

from ccin_bridge.handlers import platforms
from ccin_bridge.handlers.config import ConfigError, Secrets, Settings, load_settings
from ccin_bridge.locations import ConfigSource, data_dir_for
from ccin_bridge.scheduler.outbound import Outbound
from ccin_bridge.store import search_index, seed
from ccin_bridge.store.db import Database, DatabaseURLError, connect_problem, default_url
from ccin_bridge.store.search import warm_up

if TYPE_CHECKING:
    from ccin_bridge.handlers.core import Bridge

log = logging.getLogger(__name__)


class PlatformService(Outbound, Protocol):
    """A connected platform: receives updates between start() and stop(), and sends.

    `stop_receiving` stops receiving at once and gives updates under way `grace` seconds;
    what is not handled by then stays stored for the next start. It can still send until
    `stop`, which does both."""

    async def start(self) -> None: ...

    async def stop_receiving(self, grace: float = ...) -> None: ...

    async def stop(self, grace: float = ...) -> None: ...


@dataclass
class App:
    settings: Settings
    secrets: Secrets
    db: Database
    # The handlers, for the commands that serve people (`run`, `chat`); a one-shot command
    # works on the store and loads none of them.
    serving: Bridge | None
    data_dir: Path
    config: ConfigSource | None = None  # None: an App that tests build around a Bridge

    @property
    def bridge(self) -> Bridge:
        if self.serving is None:
            raise RuntimeError("opened for a one-shot command: no bridge (open_app serve=True)")
        return self.serving

    async def close(self) -> None:
        await self.db.close()


def _source(config: Path | ConfigSource) -> ConfigSource:
    return config if isinstance(config, ConfigSource) else ConfigSource(config, "--config")


def load(config: Path | ConfigSource) -> tuple[Settings, Secrets]:
    """The config file with the environment's overrides, and the secrets."""
    return load_settings(_source(config).path, from_environment=True), Secrets.from_env()


async def open_app(
    settings: Settings, secrets: Secrets, config: Path | ConfigSource, *, serve: bool = True
) -> App:
    """Migrate, and seed an empty database with the network's reference data.

    To `serve` (the long-running commands) it also brings the search index in step with its
    sources and builds the bridge, which mirrors the configured groups into the store; a
    one-shot command only builds an empty index, and loads no handler, so it starts fast."""
    data_dir = data_dir_for(settings, _source(config))
    try:
        db = Database(secrets.database_url or default_url(data_dir))
    except DatabaseURLError as exc:
        raise ConfigError(str(exc)) from None
    try:
        await db.upgrade()
        async with db.session() as session:
            await db.setup_turn(session)  # another process may be seeding this moment
            if await seed.is_empty(session):
                counts = await seed.seed(session)
                log.info("loaded the network's reference data: %s", counts)
            elif serve or await search_index.is_empty(session):
                # Writes only documents that changed; after an upgrade that indexes
                # differently, or an interrupted import, it mends the index.
                synced = await search_index.sync(session)
                if synced.inserted or synced.updated or synced.deleted:
                    log.info("search index brought up to date: %s", synced)
    except (OperationalError, DBAPIError) as exc:
        await db.close()
        where = "DATABASE_URL" if secrets.database_url else f"the database in {data_dir}"
        raise ConfigError(f"{where}: cannot open {db.safe_url}: {connect_problem(exc)}") from None
    bridge = None
    if serve:
        from ccin_bridge.handlers.commands import all_commands
        from ccin_bridge.handlers.core import Bridge

        bridge = Bridge(settings, db, all_commands())
        await bridge.start()
        try:  # the spelling corrector: built off the event loop, in the background if large
            async with db.read() as session:
                await warm_up(session)
        except Exception:
            log.exception("could not load the search vocabulary; the first search will")
        # What is loaded by now (modules, SQLAlchemy's mappings, the settings) lives as long as
        # the process: out of the collector's sight, a full collection no longer walks its
        # ~190,000 objects (at 50 updates a second one every ten seconds or so, 0.17 s of CPU).
        gc.collect()
        gc.freeze()
    return App(settings, secrets, db, bridge, data_dir, _source(config))


def platform_services(
    app: App, *, options: Mapping[str, Mapping[str, Any]] | None = None
) -> list[PlatformService]:
    """A running adapter for every registered platform whose credentials are set, built by
    the factory its registry entry names (its SDK is imported only then). `options` are the
    command line's, by platform (Telegram's webhook)."""
    options = options or {}
    services: list[PlatformService] = []
    for spec in platforms.registered().values():
        if spec.service is None or spec.started_by is None:
            continue
        if not app.secrets.get(spec.started_by):
            if spec.name in options:
                raise ConfigError(f"{spec.started_by} is not set, but {spec.label} options are")
            continue
        try:
            factory = platforms.load_service(spec)
        except ImportError as exc:
            raise ConfigError(
                f"{spec.started_by} is set, but {spec.label}'s library is not installed "
                f"({exc.name}): pip install 'ccin-bridge[{spec.name}]'"
            ) from None
        services.append(factory(app.bridge, app.secrets, **options.get(spec.name, {})))
    return services

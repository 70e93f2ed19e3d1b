"""What `ccin-bridge` commands do once parsed: `dispatch` opens the app and runs one.

Each command imports what only it needs when it runs: the terminal chat is ready without
APScheduler (the scheduler starts once the chat is ready for the person), importers, the CLI's
other commands or a platform's SDK."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ccin_bridge.app import App, PlatformService, load, open_app, platform_services
from ccin_bridge.cli import EXIT_CONFIG
from ccin_bridge.handlers.config import ConfigError, Secrets, Settings
from ccin_bridge.handlers.plural import plural
from ccin_bridge.locations import data_dir_for, find_config, packaged_config
from ccin_bridge.store.db import Database, DatabaseURLError, default_url

if TYPE_CHECKING:
    from ccin_bridge.background import Background
    from ccin_bridge.bots.terminal.chat import TerminalChat
    from ccin_bridge.console.server import ConsoleListener
    from ccin_bridge.health import Listener

LOG_NAME = "ccin-bridge.log"  # the chat's log, in the data folder
HANDLING_GRACE = 3.0  # seconds a stopping platform gives the updates it is handling
log = logging.getLogger("ccin_bridge")


async def dispatch(args: argparse.Namespace) -> int:
    if args.command == "init":
        return _init(args)
    source = find_config(args.config)
    settings, secrets = load(source)
    if args.command == "teams-package":  # a file from the config: no database, no logging
        return _teams_package(args, settings, secrets)
    data_dir = data_dir_for(settings, source)
    handlers: dict[str, Callable[[argparse.Namespace, App], Awaitable[int]]] = {
        "run": _run,
        "chat": _chat,
        "db": _db,
        "admin": _admin,
        "search": _search,
        "import": _import,
        "audit": _audit,
        "broadcast": _broadcast,
        "deliveries": _deliveries,
        "jobs": _jobs,
        "ics": _ics,
    }
    command = args.command
    if command == "run":
        _platform_options(args, secrets)  # options without their platform's credentials: say so
    if command == "run" and not _credentials_set(secrets):
        if not sys.stdin.isatty():  # systemd, `docker run -d`: nobody to chat with
            print(
                "ccin-bridge: no platform credentials set: set "
                f"{' or '.join(_starting_variables())} (see the README), or use "
                "`ccin-bridge chat` in a terminal",
                file=sys.stderr,
            )
            return EXIT_CONFIG
        command = "chat"  # `run` on the embedded default, in a terminal: the chat
    if not secrets.database_url or command == "chat":  # the SQLite file, the chat's log
        _make_data_folder(data_dir)
    _start_logging(args, command, data_dir, secrets)
    log.info("configuration: %s; data: %s", source.describe(), data_dir)
    if args.command == "db" and args.action == "upgrade":
        return await _db_upgrade(data_dir, secrets.database_url)
    if args.command == "db" and args.action == "backup":
        return await _db_backup(args, data_dir, secrets.database_url)
    # Only the long-running commands check the whole search index and load the handlers.
    app = await open_app(settings, secrets, source, serve=command in ("run", "chat"))
    try:
        if command != args.command:
            print(
                f"No platform credentials set ({', '.join(_starting_variables())}): "
                "starting the terminal chat on the embedded database."
            )
            return await _chat_with_scheduler(app, name="Guest", admin=False)
        return await handlers[command](args, app)
    finally:
        await app.close()


def _start_logging(
    args: argparse.Namespace, command: str, data_dir: Path, secrets: Secrets
) -> None:
    # The service logs to standard error; the chat owns the terminal, so it logs to a file;
    # the one-shot commands say only what went wrong, on standard error.
    from ccin_bridge import log_setup

    service = command in ("run", "chat")
    level = args.log_level or ("INFO" if service else "WARNING")
    to_file = args.log_file or (data_dir / LOG_NAME if command == "chat" else None)
    log_setup.configure(level, to_file=to_file, log_format=args.log_format, secrets=secrets)


def _make_data_folder(data_dir: Path) -> None:
    """The data folder, made if it is not there; a path that cannot be one says why."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        in_the_way = next((p for p in (data_dir, *data_dir.parents) if p.is_file()), data_dir)
        raise ConfigError(f"data folder {data_dir}: {in_the_way} is a file, not a folder") from None
    except OSError as exc:
        raise ConfigError(f"data folder {data_dir}: cannot be made ({exc.strerror})") from None


def _credentials_set(secrets: Secrets) -> bool:
    from ccin_bridge.handlers import platforms

    return any(secrets.get(s.started_by) for s in platforms.registered().values() if s.started_by)


def _init(args: argparse.Namespace) -> int:
    """Write the packaged default configuration, commented, for the operator to edit."""
    folder: Path = args.folder
    target = folder / "config.yaml"
    if target.exists() and not args.force:
        print(f"ccin-bridge: {target} already exists (--force replaces it)", file=sys.stderr)
        return 1
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target.write_text(packaged_config().read_text(encoding="utf-8"), encoding="utf-8")
    except OSError as exc:
        print(f"ccin-bridge: cannot write {target} ({exc.strerror or exc})", file=sys.stderr)
        return 1
    print(
        f"Wrote {target}. Edit it, then start the bridge with `ccin-bridge --config {target} chat`"
    )
    return 0


async def _db_upgrade(data_dir: Path, url: str | None) -> int:
    """`db upgrade` migrates without seeding, so it can run before a release goes live."""
    try:
        db = Database(url or default_url(data_dir))
    except DatabaseURLError as exc:
        raise ConfigError(str(exc)) from None
    try:
        await db.upgrade()
        print(f"database at revision {await db.current_revision()} ({db.safe_url})")
    finally:
        await db.close()
    return 0


async def _db_backup(args: argparse.Namespace, data_dir: Path, url: str | None) -> int:
    """`db backup` copies the database as it is: nothing is migrated or seeded first (a new
    version's backup of an old database keeps the old schema, to go back to)."""
    from ccin_bridge.cli import backup

    try:
        db = Database(url or default_url(data_dir))
    except DatabaseURLError as exc:
        raise ConfigError(str(exc)) from None
    try:
        return await backup.run(args, db)
    finally:
        await db.close()


async def _audit(args: argparse.Namespace, app: App) -> int:
    from ccin_bridge.cli import audit

    return await audit.run(args, app)


async def _broadcast(args: argparse.Namespace, app: App) -> int:
    from ccin_bridge.cli import push

    return await push.broadcast(args, app)


async def _deliveries(args: argparse.Namespace, app: App) -> int:
    from ccin_bridge.cli import push

    return await push.deliveries(args, app)


async def _jobs(args: argparse.Namespace, app: App) -> int:
    from ccin_bridge.cli import schedule  # APScheduler's job store

    return await schedule.jobs(args, app)


async def _ics(args: argparse.Namespace, app: App) -> int:
    from ccin_bridge.cli import schedule

    return await schedule.feed(args, app)


def _teams_package(args: argparse.Namespace, settings: Settings, secrets: Secrets) -> int:
    from ccin_bridge.bots.teams.package import write_package  # no SDK: the manifest only
    from ccin_bridge.cli.parser import installed_version
    from ccin_bridge.handlers.commands import all_commands

    out = write_package(
        args.out,
        settings,
        secrets,
        all_commands(),
        website=args.website,
        privacy=args.privacy_url,
        terms=args.terms_url,
        version=installed_version(),
    )
    print(f"wrote {out}: upload it in the Teams admin centre (Manage apps → Upload)")
    return 0


async def _run(args: argparse.Namespace, app: App) -> int:
    from ccin_bridge.background import Background
    from ccin_bridge.scheduler.outbound import ChatAdmin

    services = platform_services(app, options=_platform_options(args, app.secrets))
    background = Background(
        app,
        {s.platform: s for s in services},
        {s.platform: s for s in services if isinstance(s, ChatAdmin)},
    )
    started: list[PlatformService] = []
    listener: Listener | None = None
    console: ConsoleListener | None = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        for service in services:
            await service.start()
            started.append(service)
            log.info("%s adapter started", service.platform)
        await background.start()
        if app.settings.http.enabled:
            from ccin_bridge.health import start_listener

            http = app.settings.http
            listener = await start_listener(app, background, started, http.host, http.port)
            log.info("health, readiness and metrics on http://%s:%d/", http.host, listener.port)
        if app.settings.console.enabled:
            from ccin_bridge.console.server import start_console

            where = app.settings.console
            running = [s.platform for s in started]
            console = await start_console(app.bridge, where.host, where.port, running)
            log.info("admin console on http://%s:%d/", where.host, console.port)
            if where.public_url is None:
                log.warning(
                    "console: no console.public_url: its cookies are not marked Secure, and "
                    "forms are refused if a proxy changes the host name; set it to the address "
                    "admins' browsers use"
                )
        names = ", ".join(s.platform.capitalize() for s in started)
        print(f"ccin-bridge is running on {names}; Ctrl-C stops it.", flush=True)
        await stop.wait()
    finally:
        if console is not None:
            await console.stop()
        if listener is not None:
            await listener.stop()  # first: nothing answers "ready" while the parts stop
        # Well within 10 s: every platform stops receiving at once and gives the updates it
        # is handling HANDLING_GRACE seconds (the rest stay stored for the next start), while
        # the scheduler and outbox workers finish or hand back their sends; then the
        # platforms' clients close.
        stopping = [s.stop_receiving(grace=HANDLING_GRACE) for s in started]
        outcomes = await asyncio.gather(*stopping, background.stop(), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                log.error("a part of the bridge did not stop cleanly", exc_info=outcome)
        for service in reversed(started):
            try:
                await service.stop(grace=0)
            except Exception:
                log.exception("the %s adapter did not stop cleanly", service.platform)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    print("ccin-bridge stopped.")
    return 0


def _starting_variables() -> list[str]:
    from ccin_bridge.handlers import platforms

    return [s.started_by for s in platforms.registered().values() if s.started_by]


def _platform_options(args: argparse.Namespace, secrets: Secrets) -> dict[str, Mapping[str, Any]]:
    """The service arguments of each platform whose `run` options were given, made by the
    function its registry entry names; a platform's options need its credentials."""
    from ccin_bridge.handlers import platforms

    options: dict[str, Mapping[str, Any]] = {}
    for spec in platforms.registered().values():
        values = {o.flag: getattr(args, o.dest, None) for o in spec.run_options}
        given = [flag for flag, value in values.items() if value is not None]
        if not given or spec.prepare_options is None:
            continue
        if spec.started_by is not None and not secrets.get(spec.started_by):
            raise ConfigError(f"{given[0]}: {spec.started_by} is not set")
        prepared = platforms.load_prepare_options(spec)(values, secrets)
        if prepared:
            options[spec.name] = prepared
    return options


async def _chat(args: argparse.Namespace, app: App) -> int:
    return await _chat_with_scheduler(app, name=args.name, admin=args.admin)


async def _chat_with_scheduler(app: App, *, name: str, admin: bool) -> int:
    """The terminal chat, and beside it the scheduler and the outbox workers (which print
    pushes for the person at the terminal). Those start beside the chat once its greeting is
    out (see `TerminalChat.run`), so the first prompt does not wait for them."""
    from ccin_bridge.bots.terminal.chat import TerminalChat

    chat = TerminalChat(app.bridge, name=name, attachments_dir=app.data_dir / "downloads")
    if admin:
        # A stored right, as `admin grant` gives: approval cards and delivery reports reach
        # this person at this terminal later too, not only during this run.
        from ccin_bridge.store import audit, people

        async with app.db.session() as session:
            user_id = chat.user.user_id
            await people.set_admin(session, platform="terminal", external_id=user_id, is_admin=True)
            await audit.record(
                session, actor_id=None, action="admin.grant", who=f"terminal:{user_id}"
            )
        print(
            f"{name} is an admin at this terminal from now on "
            f"(`ccin-bridge admin revoke terminal:{user_id}` takes it back)."
        )
    started: list[Background] = []
    keeping: list[asyncio.Task[None]] = []

    consoles: list[ConsoleListener] = []

    async def start_background() -> None:
        from ccin_bridge.background import Background  # APScheduler and the workers

        background = Background(app, {chat.platform: chat})
        started.append(background)  # stopped even if its start is cut short
        await background.start()
        keeping.append(asyncio.create_task(_kept_while_here(app.db, chat), name="terminal-kept"))
        if app.settings.console.enabled:
            # Locally too: the sign-in code comes to this chat, as it would to a private chat.
            from ccin_bridge.console.server import start_console

            where = app.settings.console
            consoles.append(await start_console(app.bridge, where.host, where.port, ["terminal"]))
            chat.note(
                f"The admin console is on http://{where.host}:{consoles[0].port}/ : sign in "
                f"as {chat.platform}:{chat.user.user_id} and the code comes here."
            )

    async def catch_up() -> None:
        await show_kept(app.db, chat, away=True)

    # SIGTERM (systemd, docker stop) and Ctrl-C end the chat at once and stop what it started.
    loop = asyncio.get_running_loop()
    chatting = asyncio.create_task(
        chat.run(on_ready=start_background, catch_up=catch_up), name="terminal-chat"
    )
    signalled: list[int] = []

    def stop_chat(signum: int) -> None:
        signalled.append(signum)
        chatting.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop_chat, signum)
    try:
        await chatting
    except asyncio.CancelledError:
        if not signalled:
            raise  # this command itself was cancelled, not the chat by a signal
        print("\nccin-bridge stopped.", flush=True)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        for task in keeping:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for console in consoles:
            await console.stop()
        for background in started:
            await background.stop()
    return 0


KEPT_POLL_SECONDS = 5.0  # how soon a message another terminal's workers kept for us is shown


async def show_kept(db: Database, chat: TerminalChat, *, away: bool) -> None:
    """Show, once, what the outbox kept or queued for the person at this terminal, and record
    it delivered. Shown inside the transaction that takes it: if the record cannot be written,
    it is shown again next time rather than lost. A push this finishes (its last row was still
    pending: no lane had taken it) has its delivery report queued here, as a lane would."""
    from ccin_bridge.handlers import reply_codec
    from ccin_bridge.scheduler.delivery import queue_reports
    from ccin_bridge.store import outbox

    async with db.read() as session:  # nearly always nothing: no write then
        if not await outbox.kept_for_chats(session, platform=chat.platform, chat_ids=chat.chat_ids):
            return
    async with db.session() as session:
        jobs = await outbox.claim_for_chats(
            session,
            worker=f"terminal-chat:{os.getpid()}:{uuid.uuid4().hex[:8]}",  # this take's own
            platform=chat.platform,
            chat_ids=chat.chat_ids,
        )
        replies = []
        for job in jobs:
            try:
                replies.append(reply_codec.decode(job.payload))
            except (ValueError, KeyError):  # a stored reply this chat cannot take
                await outbox.mark_failed(session, job.id, "the bridge could not show this message")
            else:
                await outbox.mark_sent(session, job.id)
        await queue_reports(session, {job.push_id for job in jobs})
        if away:
            chat.show_kept(replies)
        else:
            for reply in replies:
                await chat.send(chat=chat.push_chat, reply=reply)


async def _kept_while_here(db: Database, chat: TerminalChat) -> None:
    """While the chat is open: a message the workers of another terminal chat kept for this
    person (they took it while this one was not yet open, or first) is shown here too."""
    while True:
        await asyncio.sleep(KEPT_POLL_SECONDS)
        try:
            await show_kept(db, chat, away=False)
        except Exception:  # the database away for a moment: the next look will find it
            log.warning("could not look for messages kept for this terminal", exc_info=True)


async def _db(args: argparse.Namespace, app: App) -> int:
    from ccin_bridge.cli.parser import installed_version
    from ccin_bridge.store import seed

    async with app.db.session() as session:
        if args.action == "seed":
            counts = await seed.seed(session)
            print("reference data loaded: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        else:
            counts = await seed.counts(session)
            print(f"ccin-bridge {installed_version()}")
            if app.config is not None:
                print(f"configuration: {app.config.describe()}")
            print(f"data folder: {app.data_dir}")
            print(f"database {app.db.safe_url} at revision {await app.db.current_revision()}")
            print("records: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


async def _search(args: argparse.Namespace, app: App) -> int:
    from ccin_bridge.store import search as store_search

    limit = int(args.limit)  # 1 to 100: the parser refuses others
    kinds = tuple(k.replace("-", "_") for k in args.kind or ())
    async with app.db.session() as session:
        page = await store_search.search(session, " ".join(args.query), kinds=kinds, limit=limit)
    for problem in page.problems:
        print(f"ccin-bridge: ignored {problem}", file=sys.stderr)
    if args.json:
        print(json.dumps([
            {"title": h.title, "url": h.url, "kind": h.kind, "score": h.score,
             "member": h.member, "year": h.year}
            for h in page.hits
        ], ensure_ascii=False, indent=2))  # fmt: skip
        return 0
    if not page.hits:
        print("no results")
        return 0
    for typed, fix in page.corrections.items():
        print(f"(including results for {fix!r}; you typed {typed!r})")
    for rank, hit in enumerate(page.hits, 1):
        facts = ", ".join(x for x in (hit.kind.replace("_", " "), hit.member, hit.year) if x)
        print(f"{rank:>3}. {hit.title} [{facts}] {hit.url or ''}".rstrip())
    print(plural(page.total, "result") + (" with some of the words" if page.relaxed else ""))
    return 0


async def _import(args: argparse.Namespace, app: App) -> int:
    from ccin_bridge.cli import fetch  # aiohttp only for a URL
    from ccin_bridge.handlers.imports import import_file
    from ccin_bridge.store.importers import ImportFileError

    if args.every is not None:
        return await _subscribe_feed(args, app)

    bar = _progress_bar(sys.stderr)
    try:
        with tempfile.TemporaryDirectory(prefix="ccin-import-") as folder:
            source = args.file
            private = app.settings.calendar_feeds.allow_private_addresses
            path = (
                await fetch.download(source, Path(folder), allow_private=private)
                if fetch.is_url(source)
                else None
            )
            # Streamed: a few thousand rows at a time, each batch committed with its rows'
            # search documents, so memory stays flat however long the file is.
            # The same import, report and audit entry as the web console's Imports page.
            report = await import_file(
                app.db.session,
                args.kind,
                path or Path(source),
                actor_id=None,
                zone=app.settings.zone,
                progress=bar,
            )
    except ImportFileError as exc:
        print(f"ccin-bridge: cannot import: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    for problem in (*report.errors, *report.warnings):
        print(f"  {problem.where}: {problem.reason}", file=sys.stderr)
    return 1 if report.errors else 0


async def _subscribe_feed(args: argparse.Namespace, app: App) -> int:
    """`import events URL --every 6h`: the feed subscribed, and fetched now."""
    from ccin_bridge.cli import fetch
    from ccin_bridge.handlers.commands.feeds import add_feed
    from ccin_bridge.handlers.config import parse_every
    from ccin_bridge.handlers.errors import UserFacingError
    from ccin_bridge.scheduler import feed_jobs
    from ccin_bridge.store import event_feeds

    if args.kind != "events" or not fetch.is_url(args.file):
        print("ccin-bridge: --every is for events from a feed URL", file=sys.stderr)
        return EXIT_CONFIG
    try:
        parse_every(args.every)
    except ValueError as exc:
        print(f"ccin-bridge: --every: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        async with app.db.session() as session:  # as `/feeds add` does, audited the same
            feed_id = await add_feed(
                session,
                args.file,
                args.every,
                actor_id=None,
                allow_private=app.settings.calendar_feeds.allow_private_addresses,
            )
    except UserFacingError as exc:
        print(f"ccin-bridge: {exc.reason}", file=sys.stderr)
        return EXIT_CONFIG
    result = await feed_jobs.refresh(
        app.db,
        feed_id,
        app.settings.zone,
        datetime.now(UTC),
        allow_private=app.settings.calendar_feeds.allow_private_addresses,
    )
    if result is None:
        async with app.db.read() as session:
            error = await event_feeds.last_error(session, feed_id)
        print(f"ccin-bridge: cannot import: {error}", file=sys.stderr)
        print(f"Subscribed all the same: it is tried again every {args.every}.", file=sys.stderr)
        return 1
    print(result.summary())
    print(f"Subscribed: a running bridge fetches it again every {args.every}.")
    problems = result.report.errors if result.report else ()
    warnings = result.report.warnings if result.report else ()
    for problem in (*problems, *warnings):
        print(f"  {problem.where}: {problem.reason}", file=sys.stderr)
    return 1 if problems else 0


def _progress_bar(stream: TextIO) -> Callable[[int, int], None] | None:
    """A one-line bar on a terminal; nothing when output goes to a file or pipe."""
    if not stream.isatty():
        return None

    def show(done: int, total: int) -> None:
        width = 30
        filled = width * done // total if total else width
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} rows")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show


async def _admin(args: argparse.Namespace, app: App) -> int:
    from ccin_bridge.handlers.commands import link as link_commands
    from ccin_bridge.handlers.commands.admins import change_admin
    from ccin_bridge.handlers.errors import UserFacingError
    from ccin_bridge.handlers.identity import parse_user_key

    try:
        platform, user_id = parse_user_key(args.who)
    except ValueError as exc:
        print(f"ccin-bridge: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    key = f"{platform}:{user_id}"
    if args.action == "unlink":
        try:
            async with app.db.session() as session:
                message = await link_commands.admin_unlink(
                    session, platform=platform, external_id=user_id, actor_id=None
                )
        except UserFacingError as exc:
            print(f"ccin-bridge: {exc.reason}", file=sys.stderr)
            return 1
        print(message)
        return 0
    try:  # as `/admin grant` in chat and the console's Admins page, audited the same
        async with app.db.session() as session:
            said = await change_admin(
                session,
                key,
                grant=args.action == "grant",
                actor_id=None,
                config_admins=app.settings.admins,
            )
    except UserFacingError as exc:
        print(f"ccin-bridge: {exc.reason}", file=sys.stderr)
        return 1
    print(said)
    return 0

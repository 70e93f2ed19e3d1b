"""`ccin-bridge broadcast` and `ccin-bridge deliveries`: admin pushes from the command line.

A broadcast is only queued here, in the outbox of the bridge's database; a running bridge
(`ccin-bridge run`) delivers it, so the command returns at once with the push's number.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ccin_bridge.app import App
from ccin_bridge.handlers import broadcasts
from ccin_bridge.handlers.delivery_report import one_line
from ccin_bridge.handlers.errors import UserFacingError
from ccin_bridge.handlers.plural import plural
from ccin_bridge.handlers.requests import clean_text
from ccin_bridge.store import outbox

EXIT_USAGE = 2


def message_from(args: argparse.Namespace) -> str:
    """The broadcast text, cleaned paragraph by paragraph (blank lines are kept)."""
    if args.file is not None:
        try:
            raw = Path(args.file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise UserFacingError(f"cannot read {args.file}: {why}") from None
    else:
        raw = args.text or ""
    paragraphs = [clean_text(p) for p in raw.replace("\r\n", "\n").split("\n\n")]
    return "\n\n".join(p for p in paragraphs if p)


async def broadcast(args: argparse.Namespace, app: App) -> int:
    try:
        audience = broadcasts.find_audience(app.settings, args.audience)
        message = broadcasts.check_text(message_from(args))
        async with app.db.session() as session:
            queued = await broadcasts.queue(
                session,
                app.settings,
                audience=audience,
                text=message,
                created_by=None,
                via="cli",
            )
    except UserFacingError as exc:
        print(f"ccin-bridge: {exc.reason}", file=sys.stderr)
        return EXIT_USAGE
    label = broadcasts.audience_label(app.settings, audience)
    if queued.recipients == 0:  # recorded, but no delivery will ever be made or reported
        print(
            f"ccin-bridge: broadcast #{queued.push_id} is recorded, but nobody is subscribed to"
            f" {label} yet, so it was not sent to anyone.",
            file=sys.stderr,
        )
        return 0
    print(f"Queued broadcast #{queued.push_id} to {label}: {plural(queued.recipients, 'chat')}.")
    print(
        "A running bridge (ccin-bridge run) delivers it; if none is running, it goes out "
        "when one starts."
    )
    print(f"See how it went with: ccin-bridge deliveries {queued.push_id}")
    return 0


async def deliveries(args: argparse.Namespace, app: App) -> int:
    async with app.db.session() as session:
        if args.push_id is None:
            pushes = await outbox.recent_pushes(session, limit=20)
            if not pushes:
                print("nothing has been sent yet")
            for p in pushes:
                when = p.created_at.astimezone(app.settings.zone)
                print(f"#{p.id:<5} {when:%Y-%m-%d %H:%M} {p.kind:<13} {one_line(p.title)}")
            return 0
        report = await outbox.report(session, args.push_id)
    if report is None:
        print(f"ccin-bridge: there is no push #{args.push_id}", file=sys.stderr)
        return 1
    when = report.created_at.astimezone(app.settings.zone)
    audience = f", audience {report.audience}" if report.audience else ""
    print(f"Push #{report.push_id}: {report.kind}{audience}, queued {when:%Y-%m-%d %H:%M}")
    if report.title:
        print(f"  {one_line(report.title)}")
    state = "finished" if report.finished else "still going out"
    print(f"{plural(report.total, 'recipient chat')}, {state}:")
    for status, count in report.counts.items():
        if count:
            print(f"  {status:<8} {count}")
    if report.in_doubt:
        print(
            f"  {report.in_doubt} may have arrived twice: the platform did not confirm them in"
            " time, or a worker stopped while sending them"
        )
    if report.errors:
        print("Problems:")
        for platform, chat, error in report.errors:
            print(f"  {platform} {chat}: {error}")
    return 0

"""What the console's broadcast and delivery pages read (never a business rule: sending goes
through the commands). The broadcast waiting for its Send, as the flow will queue it; a push's
report as `/deliveries ID` reads it (the same counts) with a row for each recipient chat, so
the page can fill in while it goes out."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from ccin_bridge.handlers import broadcasts, flow, platforms
from ccin_bridge.handlers.commands.broadcast import BROADCAST, CONFIRM
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.delivery_report import one_line
from ccin_bridge.handlers.replies import Reply
from ccin_bridge.store import conversations, outbox
from ccin_bridge.store.db import Database

ROWS = 500  # recipients listed on a page; the counts cover them all
_LABELS = {
    outbox.PENDING: "waiting",
    outbox.CLAIMED: "waiting",
    outbox.SENDING: "sending",
    outbox.SENT: "sent",
    outbox.FAILED: "failed",
    outbox.BLOCKED: "blocked the bot",
    outbox.WAITING: "kept until they are back",
}


async def waiting_broadcast(
    db: Database, settings: Settings, identity_id: int, now: datetime
) -> Reply | None:
    """The message the account's broadcast would queue if Send were pressed now (the flow's
    saved state, composed as `broadcasts.queue` composes it); None if none is waiting."""
    async with db.session() as session:  # an expired flow is tidied away as it is read
        record = await conversations.current(session, identity_id, now)
    if record is None or record.step != CONFIRM:
        return None
    try:
        state = BROADCAST.read(record).state
    except flow.Expired:
        return None
    if state.audience is None or state.text is None:
        return None
    return broadcasts.compose(settings, state.audience, state.text)


@dataclass(frozen=True)
class Tally:
    sent: int
    failed: int
    blocked: int
    in_doubt: int  # may have arrived twice (counted in its status as well)
    waiting: int  # not sent yet (queued, or being sent)
    kept: int  # away: kept until they are next in the chat

    @staticmethod
    def of(report: outbox.PushReport) -> Tally:
        counts = report.counts
        return Tally(
            sent=counts.get(outbox.SENT, 0),
            failed=counts.get(outbox.FAILED, 0),
            blocked=counts.get(outbox.BLOCKED, 0),
            in_doubt=report.in_doubt,
            waiting=sum(counts.get(s, 0) for s in outbox.UNFINISHED),
            kept=counts.get(outbox.WAITING, 0),
        )


@dataclass(frozen=True)
class RecipientRow:
    name: str
    platform: str  # as people read it
    status: str  # the delivery's status (outbox.STATUSES)
    label: str  # the status, in words
    in_doubt: bool
    at: datetime | None  # sent, else last tried; network time
    error: str


@dataclass(frozen=True)
class PushStatus:
    push_id: int
    kind: str
    title: str
    audience: str | None
    created_at: datetime  # network time
    total: int
    finished: bool
    tally: Tally
    rows: tuple[RecipientRow, ...] = ()

    @property
    def unlisted(self) -> int:
        return max(0, self.total - len(self.rows))


def _name(settings: Settings, recipient: outbox.RecipientStatus) -> str:
    handle = f"@{recipient.username}" if recipient.username else ""
    if recipient.name:
        return f"{recipient.name} ({handle})" if handle else recipient.name
    if handle:
        return handle
    if not recipient.is_private:
        for group in settings.groups:
            if recipient.chat_id in group.chats.on(recipient.platform):
                return f"{group.name} chat"
        return f"group chat {recipient.chat_id}"
    return "an account no longer known"


def _status(settings: Settings, report: outbox.PushReport) -> PushStatus:
    return PushStatus(
        push_id=report.push_id,
        kind=report.kind,
        title=one_line(report.title) or report.kind,
        audience=report.audience,
        created_at=report.created_at.astimezone(settings.zone),
        total=report.total,
        finished=report.finished,
        tally=Tally.of(report),
    )


async def push_status(
    db: Database, settings: Settings, push_id: int, limit: int = ROWS
) -> PushStatus | None:
    """A push's counts and its first `limit` recipients, or None if there is no such push."""
    async with db.read() as session:
        report = await outbox.report(session, push_id)
        if report is None or report.kind in outbox.UNLISTED_KINDS:
            return None
        found = await outbox.recipients(session, push_id, limit)
    rows = tuple(
        RecipientRow(
            name=_name(settings, r),
            platform=platforms.label(r.platform),
            status=r.status,
            label=_LABELS.get(r.status, r.status),
            in_doubt=r.in_doubt,
            at=r.at.astimezone(settings.zone) if r.at else None,
            error=r.error or "",
        )
        for r in found
    )
    return replace(_status(settings, report), rows=rows)


async def recent(db: Database, settings: Settings, limit: int = 20) -> list[PushStatus]:
    """The newest pushes first (as `/deliveries` lists them), each with its counts."""
    async with db.read() as session:
        reports = await outbox.recent_reports(session, limit=limit)
    return [_status(settings, r) for r in reports]

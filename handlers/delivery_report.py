"""The delivery report an admin gets when a push they sent has settled."""

from __future__ import annotations

from ccin_bridge.handlers.plural import plural
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold
from ccin_bridge.store.outbox import PushReport

_LABELS = {
    "sent": "sent",
    "failed": "failed",
    "blocked": "blocked the bot",
    "pending": "waiting",
    "claimed": "waiting",
    "sending": "sending",
    "waiting": "away: kept until they are next in the chat",
}


def one_line(title: str) -> str:
    """A push's title on one line: a broadcast's is the start of its text, which may hold
    paragraphs, and a list of pushes has one line each."""
    return " ".join(title.split())


def report_lines(report: PushReport) -> list[tuple[Span, ...]]:
    shown: dict[str, int] = {}
    for status, count in report.counts.items():
        if count:
            label = _LABELS.get(status, status)
            shown[label] = shown.get(label, 0) + count
    lines: list[tuple[Span, ...]] = [
        (bold(str(n)), Span(f" {label}")) for label, n in shown.items()
    ]
    if report.in_doubt:
        lines.append(
            (
                bold(str(report.in_doubt)),
                Span(
                    " may have arrived twice: the platform did not confirm them in time,"
                    " or a worker stopped while sending them"
                ),
            )
        )
    return lines


def report_reply(report: PushReport) -> Reply:
    what = one_line(report.title) or report.kind
    builder = ReplyBuilder().heading(f"Delivery report: {what}")
    if report.total == 0:
        builder.para("Nobody was subscribed, so nothing was sent.")
    else:
        builder.para(f"{plural(report.total, 'recipient chat')}:").bullets(report_lines(report))
    if report.errors:
        builder.para("First problems:").bullets(
            [(Span(f"{platform} {chat}: {error}"),) for platform, chat, error in report.errors[:5]]
        )
    builder.buttons(Button("Full report", f"deliveries {report.push_id}"))
    return builder.build()

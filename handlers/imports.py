"""A file of case studies, projects, suppliers or events imported: the importer's row-by-row
report and one audit entry (`import.file`), the same from `ccin-bridge import` and the web
console's Imports page."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from zoneinfo import ZoneInfo

from ccin_bridge.store import audit
from ccin_bridge.store.importers import (
    COMMIT_ROWS,
    ImportFileError,
    ImportReport,
    Kind,
    Progress,
    Units,
    import_in_batches,
)

IMPORTED = "import.file"
COMPLETE, STOPPED, FAILED = "complete", "stopped", "failed"

log = logging.getLogger(__name__)


class ImportStopped(Exception):
    """Raised from a progress callback to end an import after the batch just committed."""


async def import_file(
    units: Units,
    kind: Kind,
    path: Path,
    *,
    actor_id: int | None,
    zone: ZoneInfo,
    progress: Progress | None = None,
    rows: int = COMMIT_ROWS,
) -> ImportReport:
    """Import `path` a few thousand rows at a time (each batch committed, memory flat), then
    note in the audit log who imported what and how it went (`actor_id` None: the command
    line). The entry is written however the import ends: one that stopped or failed part-way
    has changed data too, so its entry has the outcome and the rows committed so far. Only a
    file that cannot be read at all (`ImportFileError` before any row) is not audited."""
    committed = [0, 0]  # rows done, rows in the file, as the importer last said

    def counted(done: int, total: int) -> None:
        committed[:] = [done, total]
        if progress is not None:
            progress(done, total)

    report: ImportReport | None = None
    outcome = FAILED
    try:
        report = await import_in_batches(units, kind, path, progress=counted, zone=zone, rows=rows)
        outcome = COMPLETE
        return report
    except ImportFileError:
        if committed[0] == 0:
            outcome = ""  # nothing read, nothing changed
        raise
    except (ImportStopped, asyncio.CancelledError, KeyboardInterrupt, SystemExit):
        outcome = STOPPED
        raise
    finally:
        if outcome:
            await _audited(units, kind, path, actor_id, outcome, report, committed)


async def _audited(
    units: Units,
    kind: Kind,
    path: Path,
    actor_id: int | None,
    outcome: str,
    report: ImportReport | None,
    committed: list[int],
) -> None:
    counts: dict[str, int] = (
        {
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "skipped": len(report.errors),
        }
        if report is not None
        else {"rows_done": committed[0], "rows_total": committed[1]}
    )
    try:
        async with units() as session:
            await audit.record(
                session,
                actor_id=actor_id,
                action=IMPORTED,
                kind=kind,
                file=path.name,
                outcome=outcome,
                **counts,
            )
    except Exception:
        if outcome == COMPLETE:
            raise
        # The import's own error is the one to raise; this one is only logged.
        log.exception("cannot record the %s import of %s in the audit log", outcome, path.name)

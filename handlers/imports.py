"""A file of case studies, projects, suppliers or events imported: the importer's row-by-row
report and one audit entry (`import.file`), the same from `ccin-bridge import` and the web
console's Imports page."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from ccin_bridge.store import audit
from ccin_bridge.store.importers import (
    COMMIT_ROWS,
    ImportReport,
    Kind,
    Progress,
    Units,
    import_in_batches,
)

IMPORTED = "import.file"


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
    line). A file that cannot be read at all raises `ImportFileError` and is not audited:
    nothing was imported."""
    report = await import_in_batches(units, kind, path, progress=progress, zone=zone, rows=rows)
    async with units() as session:
        await audit.record(
            session,
            actor_id=actor_id,
            action=IMPORTED,
            kind=kind,
            file=path.name,
            created=report.created,
            updated=report.updated,
            unchanged=report.unchanged,
            skipped=len(report.errors),
        )
    return report

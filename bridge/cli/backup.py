"""`ccin-bridge db backup FILE [--force]`: a copy of the SQLite database, safe while it runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ccin_bridge.store.backup import BackupError, backup
from ccin_bridge.store.db import Database


async def run(args: argparse.Namespace, db: Database) -> int:
    """The command on a database opened without the app, so that nothing is migrated or
    seeded first: a backup taken before an upgrade is of the schema before it."""
    try:
        report = await backup(db, Path(args.file), overwrite=args.force)
    except BackupError as exc:
        print(f"ccin-bridge: no backup made: {exc}", file=sys.stderr)
        return 1
    revision = f"revision {report.revision}" if report.revision else "no revision"
    print(
        f"backed up {report.source} to {report.target} "
        f"({_size(report.size_bytes)}, {revision}, integrity ok)"
    )
    return 0


def _size(size: int) -> str:
    for power, unit in ((3, "GB"), (2, "MB"), (1, "KB")):
        if size >= 1000**power:
            return f"{size / 1000**power:.1f} {unit}"
    return f"{size} bytes"

"""Imports started from the web console: each runs as a background job, off the event loop
(in a thread, on a database connection of its own, as `ccin-bridge import` runs in a process
of its own), through the same importer and audit entry as the command line
(handlers/imports.py), with its progress and report kept here for the page to show.

They run one at a time on a thread of their own ("console-import"), not the loop's default
executor, which the bridge's name lookups (every bot's) share; at most MAX_JOBS are queued or
running, and a further upload is refused until one ends. A finished job keeps only the first
KEPT_PROBLEMS skipped rows and warnings (and how many there were).

The jobs are this process's: behind a load balancer the progress page needs the same process
(sticky sessions); the outcome is in the audit log either way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from ccin_bridge.handlers import imports
from ccin_bridge.store.db import Database
from ccin_bridge.store.importers import ImportFileError, ImportReport, Kind

log = logging.getLogger(__name__)

KEPT = 20  # finished jobs remembered for their pages (the newest)
KEPT_PROBLEMS = 500  # skipped rows and warnings a finished job keeps for its page (each)
MAX_JOBS = 3  # imports queued or running at once; one more is refused until one ends
FOLDER_PREFIX = "ccin-console-import-"  # each upload's temporary folder
STALE_SECONDS = 24 * 3600  # a folder this old at start was left by a killed bridge
# Rows per committed batch: on SQLite the running bridge's writers wait for each batch's
# commit, so batches stay small enough for that wait to stay short.
BATCH_ROWS = 1_000


@dataclass
class ImportJob:
    id: str
    kind: Kind
    file_name: str
    done: int = 0
    total: int | None = None
    report: ImportReport | None = None
    error: str | None = None
    finished: bool = False
    errors: int = 0  # skipped rows, all of them (the report keeps the first KEPT_PROBLEMS)
    warnings: int = 0
    summary: str = ""  # the report's summary line, counted before it was cut down

    stopping: bool = False  # the console is stopping: end after the batch under way

    def progress(self, done: int, total: int) -> None:
        # Called from the import's thread between batches (each committed), so stopping
        # here keeps every row imported so far.
        self.done, self.total = done, total
        if self.stopping and done < total:
            raise _Stopped

    def finish(self, report: ImportReport) -> None:
        """Keep the report with its first KEPT_PROBLEMS problems of each sort, and the counts."""
        self.errors, self.warnings = len(report.errors), len(report.warnings)
        self.summary = report.summary()
        self.report = dataclasses.replace(
            report,
            errors=report.errors[:KEPT_PROBLEMS],
            warnings=report.warnings[:KEPT_PROBLEMS],
        )


class _Stopped(imports.ImportStopped):
    """The bridge is stopping: the import ends after the batch it was writing."""


class ImportsBusy(Exception):
    """MAX_JOBS imports are queued or running already."""


def sweep_stale_folders(now: float | None = None, root: Path | None = None) -> int:
    """Remove upload folders a killed bridge left behind (older than a day: a running
    bridge's own are newer); how many were removed."""
    root = Path(tempfile.gettempdir()) if root is None else root
    cutoff = (time.time() if now is None else now) - STALE_SECONDS
    removed = 0
    for folder in root.glob(FOLDER_PREFIX + "*"):
        try:
            if folder.is_dir() and not folder.is_symlink() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder)
                removed += 1
        except OSError:  # another process's, or gone already
            log.warning("console: cannot remove the old upload folder %s", folder)
    return removed


@dataclass
class ImportJobs:
    database_url: str
    zone: ZoneInfo
    jobs: dict[str, ImportJob] = field(default_factory=dict)
    _running: set[asyncio.Task[None]] = field(default_factory=set)
    _executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="console-import"
        )
    )

    @property
    def busy(self) -> bool:
        return len(self._running) >= MAX_JOBS

    def start(self, kind: Kind, folder: Path, path: Path, actor_id: int) -> ImportJob:
        """Import `path` (in `folder`, removed when done) in the background; the job.
        ImportsBusy if MAX_JOBS are queued or running (the caller removes the folder)."""
        if self.busy:
            raise ImportsBusy(
                f"{MAX_JOBS} imports are under way or waiting already: import this file "
                "once one of them has finished"
            )
        job = ImportJob(secrets.token_urlsafe(16), kind, path.name)
        self.jobs[job.id] = job
        finished = [j.id for j in self.jobs.values() if j.finished]
        for old in finished[: max(0, len(finished) - KEPT)]:
            del self.jobs[old]
        task = asyncio.create_task(self._run(job, folder, path, actor_id))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return job

    async def wait(self) -> None:
        """Until the imports under way and waiting have finished."""
        while self._running:
            await asyncio.wait(set(self._running))

    async def stop(self) -> None:
        """End the imports under way after their current batch, and wait for that: a stopping
        bridge does not wait for a whole large file."""
        for job in self.jobs.values():
            job.stopping = True
        await self.wait()
        self._executor.shutdown(wait=False)

    async def _run(self, job: ImportJob, folder: Path, path: Path, actor_id: int) -> None:
        try:
            loop = asyncio.get_running_loop()
            job.finish(
                await loop.run_in_executor(self._executor, self._in_thread, job, path, actor_id)
            )
        except ImportFileError as exc:
            job.error = str(exc)
        except _Stopped:
            log.warning("console: the import of %s stopped with the bridge", job.file_name)
            job.error = (
                f"The bridge stopped during the import, after {job.done:,} rows: import the "
                "file again to finish (the rows already imported count as unchanged)."
            )
        except Exception:
            log.exception("console: the import of %s failed", job.file_name)
            job.error = (
                "The import stopped because of an unexpected error (the bridge's log says "
                "which); the batches of rows before it were kept."
            )
        finally:
            job.finished = True
            await asyncio.to_thread(shutil.rmtree, folder, True)

    def _in_thread(self, job: ImportJob, path: Path, actor_id: int) -> ImportReport:
        """The import on an event loop and database engine of this thread's own, so that
        reading and checking a large file never holds up the bridge's loop."""

        async def run() -> ImportReport:
            db = Database(self.database_url)
            try:
                return await imports.import_file(
                    db.session,
                    job.kind,
                    path,
                    actor_id=actor_id,
                    zone=self.zone,
                    progress=job.progress,
                    rows=BATCH_ROWS,
                )
            finally:
                await db.close()

        return asyncio.run(run())

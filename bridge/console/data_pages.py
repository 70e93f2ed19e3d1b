"""The console's data pages: Imports (upload a file, watch it import, read the report), Events
and feeds, Admins, and Jobs.

Each does what the chat command or the command line does, through the same code: `/events`,
`/feeds` and `/admins` (with `admin grant`/`revoke` and `feeds add`/`remove`) are run as the
signed-in admin, an upload goes through handlers/imports.py as `ccin-bridge import` does, and
the jobs are read from the job store as `ccin-bridge jobs` reads them.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, cast

from aiohttp import BodyPartReader, web
from markupsafe import Markup

from ccin_bridge.console.import_jobs import (
    FOLDER_PREFIX,
    ImportJob,
    ImportJobs,
    ImportsBusy,
    sweep_stale_folders,
)
from ccin_bridge.console.site import ConsoleSite
from ccin_bridge.handlers.console import SignedIn
from ccin_bridge.handlers.replies import Reply
from ccin_bridge.store.importers import Kind

MAX_UPLOAD = 20 * 1024 * 1024  # as `ccin-bridge import URL` downloads at most
MAX_FIELD = 4096  # a form field beside the file (the kind, the CSRF token)
FIELDS = ("csrf", "kind")  # the form's fields before its one file, each at most once
NOT_OURS = "The form was not one the console sent"
CHUNK = 64 * 1024
KINDS: dict[Kind, str] = {
    "case-studies": "Case studies",
    "projects": "Funded projects",
    "suppliers": "DPS suppliers",
    "events": "Events",
}
TYPES = (".csv", ".xlsx", ".json", ".ics")  # .ics for events only (the importer's rule)
SHOWN_PROBLEMS = 500  # rows of a report drawn on the page; the rest are counted


@dataclass(frozen=True)
class Section:
    title: str
    replies: list[Markup]


class UploadRefused(Exception):
    """The upload cannot be imported; the message says why, for the admin."""


@dataclass(frozen=True)
class CommandPage:
    path: str
    title: str
    parts: tuple[tuple[str, str], ...]  # (heading, command line)
    template: str


EVENTS = CommandPage(
    "events",
    "Events and feeds",
    (("Upcoming events", "events"), ("Calendar feeds", "feeds")),
    "data_events.html",
)
ADMINS = CommandPage("admins", "Admins", (("Admins", "admins"),), "data_admins.html")


class DataPages:
    def __init__(self, site: ConsoleSite) -> None:
        self.site = site
        bridge = site.console.bridge
        url = bridge.db.url.render_as_string(hide_password=False)
        self.imports = ImportJobs(url, bridge.settings.zone)
        # Upload folders of a bridge that was killed mid-import are not left for ever.
        sweep_stale_folders()
        self.script = (files("ccin_bridge.console") / "static" / "data-imports.js").read_bytes()

    async def stopped(self, _app: web.Application) -> None:
        await self.imports.stop()

    # -- Events and feeds, Admins: command replies and a form that runs a command ----------

    async def command_page(
        self,
        request: web.Request,
        page: CommandPage,
        signed: SignedIn,
        result: list[Reply] | None = None,
        values: dict[str, str] | None = None,
    ) -> web.StreamResponse:
        site, csrf = self.site, signed.session.csrf
        sections = []
        for title, line in page.parts:
            replies = await site.console.show(signed, line)
            sections.append(
                Section(title, [await site.reply_html(r, csrf, back=page.path) for r in replies])
            )
        return site.render(
            page.template,
            title=page.title,
            admin=signed.admin,
            csrf=csrf,
            here=page.path,
            sections=sections,
            result=[await site.reply_html(r, csrf, back=page.path) for r in result or []],
            values=values or {},
        )

    def _shower(self, page: CommandPage) -> Any:
        async def show(request: web.Request) -> web.StreamResponse:
            signed = await self.site.signed_in(request)
            if signed is None:
                return self.site.to_sign_in(request)
            return await self.command_page(request, page, signed)

        return show

    async def back_to(
        self, page: CommandPage, request: web.Request, signed: SignedIn, replies: list[Reply]
    ) -> web.StreamResponse:
        return await self.command_page(request, page, signed, replies)

    async def add_feed(self, request: web.Request) -> web.StreamResponse:
        posted = await self.site.posted(request)
        if isinstance(posted, web.StreamResponse):
            return posted
        signed, form = posted
        url, every = _one_word(form, "url"), _one_word(form, "every") or "6h"
        replies = await self.site.console.show(signed, f"feeds add {url} {every}")
        return await self.command_page(request, EVENTS, signed, replies, {"url": url})

    async def grant(self, request: web.Request) -> web.StreamResponse:
        posted = await self.site.posted(request)
        if isinstance(posted, web.StreamResponse):
            return posted
        signed, form = posted
        who = _one_word(form, "who")
        replies = await self.site.console.show(signed, f"admin grant {who}")
        return await self.command_page(request, ADMINS, signed, replies, {"who": who})

    # -- Jobs ------------------------------------------------------------------------------

    async def jobs(self, request: web.Request) -> web.StreamResponse:
        # Loaded here: the job store is APScheduler's, as `ccin-bridge jobs` reads it.
        from ccin_bridge.cli.schedule import describe_leader
        from ccin_bridge.scheduler.job_listing import job_rows
        from ccin_bridge.store.leadership import current_leader

        signed = await self.site.signed_in(request)
        if signed is None:
            return self.site.to_sign_in(request)
        bridge = self.site.console.bridge
        zone = bridge.settings.zone
        rows = await job_rows(bridge.db.url, bridge.settings)
        async with bridge.db.read() as session:
            leader = await current_leader(session)
        now = bridge.clock()
        return self.site.render(
            "data_jobs.html",
            title="Jobs",
            admin=signed.admin,
            csrf=signed.session.csrf,
            here="jobs",
            leader=describe_leader(leader, zone).removeprefix("leader: "),
            rows=[
                {
                    "name": r.name,
                    "id": r.id,
                    "schedule": r.schedule,
                    "next": r.next_run.astimezone(zone) if r.next_run else None,
                    "overdue": r.stored and r.next_run is not None and r.next_run < now,
                    "stored": r.stored,
                }
                for r in rows
            ],
            zone=zone.key,
            grace=bridge.settings.schedules.misfire_grace_minutes,
        )

    # -- Imports ---------------------------------------------------------------------------

    async def imports_page(self, request: web.Request) -> web.StreamResponse:
        signed = await self.site.signed_in(request)
        if signed is None:
            return self.site.to_sign_in(request)
        job = self.imports.jobs.get(request.query.get("job", ""))
        return self._imports(signed, job=job)

    def _imports(
        self,
        signed: SignedIn,
        *,
        job: ImportJob | None = None,
        error: str = "",
        kind: str = "",
        status: int = 200,
    ) -> web.Response:
        problems: list[tuple[str, str, str]] = []
        counted = 0  # all the problems, of which the job kept the first few
        if job is not None and job.report is not None:
            problems = [("Skipped", p.where, p.reason) for p in job.report.errors]
            problems += [
                ("Imported with a warning", p.where, p.reason) for p in job.report.warnings
            ]
            counted = job.errors + job.warnings
        recent = [j for j in reversed(self.imports.jobs.values()) if j is not job][:10]
        return self.site.render(
            "data_imports.html",
            status=status,
            title="Imports",
            admin=signed.admin,
            csrf=signed.session.csrf,
            here="imports",
            kinds=KINDS,
            kind=kind,
            types=", ".join(TYPES),
            limit_mb=MAX_UPLOAD // (1024 * 1024),
            error=error,
            job=job,
            problems=problems[:SHOWN_PROBLEMS],
            more_problems=max(0, counted - min(len(problems), SHOWN_PROBLEMS)),
            recent=recent,
        )

    async def import_status(self, request: web.Request) -> web.StreamResponse:
        """How far an import is, for the page's small script (it reloads the page when done)."""
        signed = await self.site.signed_in(request)
        if signed is None:
            return web.json_response({"signed_in": False}, status=403)
        job = self.imports.jobs.get(request.query.get("job", ""))
        if job is None:
            return web.json_response({"found": False}, status=404)
        return web.json_response({"done": job.done, "total": job.total, "finished": job.finished})

    async def script_file(self, _request: web.Request) -> web.Response:
        response = web.Response(body=self.script, content_type="text/javascript")
        response.headers["Cache-Control"] = "max-age=3600"
        return response

    async def upload(self, request: web.Request) -> web.StreamResponse:
        signed = await self.site.signed_in(request)
        if signed is None:
            return self.site.to_sign_in(request)
        folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX))
        kind = ""
        try:
            kind, path = await self._receive(request, signed, folder)
            job = self.imports.start(cast(Kind, kind), folder, path, signed.admin.person_id)
        except ImportsBusy as exc:
            _remove(folder)
            return self._imports(signed, error=str(exc), kind=kind, status=503)
        except UploadRefused as exc:
            _remove(folder)
            status = 413 if "larger than" in str(exc) else 400
            return self._imports(signed, error=str(exc), kind=kind, status=status)
        except _Forged:
            _remove(folder)
            return web.Response(status=403, text="This form had expired. Go back and try again.")
        except BaseException:
            _remove(folder)
            raise
        return web.Response(status=303, headers={"Location": f"imports?job={job.id}"})

    async def _receive(
        self, request: web.Request, signed: SignedIn, folder: Path
    ) -> tuple[str, Path]:
        """The form's fields in order (the CSRF token first, then the kind, then the file),
        the file streamed to `folder` and refused once it is larger than MAX_UPLOAD. Only the
        form's own fields, each once, and one file: nothing else is kept or read far."""
        if not request.content_type.startswith("multipart/form-data"):
            raise UploadRefused("Choose a file to import")
        reader = await request.multipart()
        fields: dict[str, str] = {}
        path: Path | None = None
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise UploadRefused("Choose a file to import")
            if path is not None:  # the file is the form's last part, and its only file
                await _drain(part, MAX_FIELD)
                raise UploadRefused("Choose one file to import at a time")
            if part.name != "file":
                if part.name not in FIELDS or part.name in fields or part.filename:
                    await _drain(part, MAX_FIELD)
                    raise UploadRefused(NOT_OURS)
                fields[part.name] = await _field(part)
                continue
            if not self.site.csrf_ok(signed.session.csrf, fields):
                raise _Forged
            kind = fields.get("kind", "")
            if kind not in KINDS:
                await _drain(part)
                raise UploadRefused("Choose what the file holds")
            path = await _save(part, folder, kind)
        if path is None:
            if not self.site.csrf_ok(signed.session.csrf, fields):
                raise _Forged
            raise UploadRefused("Choose a file to import")
        return fields["kind"], path


class _Forged(Exception):
    """The upload carried no valid CSRF token before its file."""


async def _field(part: BodyPartReader) -> str:
    """A small field's text, read no further than MAX_FIELD."""
    value = b""
    while chunk := await part.read_chunk(MAX_FIELD):
        value += chunk
        if len(value) > MAX_FIELD:
            raise UploadRefused(NOT_OURS)
    return value.decode("utf-8", "replace")


def _one_word(form: Any, name: str) -> str:
    # A command's argument: one word (an address or an account has no spaces in it).
    value = str(form.get(name, "")).strip()
    return value.split()[0][:1000] if value.split() else ""


async def _save(part: BodyPartReader, folder: Path, kind: str) -> Path:
    name = _safe_name(part.filename or "")
    if not name:
        await _drain(part)
        raise UploadRefused("Choose a file to import")
    suffix = Path(name).suffix.casefold()
    allowed = TYPES if kind == "events" else tuple(t for t in TYPES if t != ".ics")
    if suffix not in allowed:
        await _drain(part)
        what = KINDS[cast(Kind, kind)].lower()
        raise UploadRefused(
            f"{name} cannot be imported: {what} are imported from "
            f"{', '.join(allowed)} files, not {suffix or 'a file without an extension'}"
        )
    path = folder / name
    size = 0
    with path.open("wb") as out:
        while chunk := await part.read_chunk(CHUNK):
            size += len(chunk)
            if size > MAX_UPLOAD:
                await _drain(part, MAX_UPLOAD)
                raise UploadRefused(
                    f"{name} is larger than {MAX_UPLOAD // (1024 * 1024)} MB: split it into "
                    "smaller files and import each"
                )
            out.write(chunk)
    if size == 0:
        raise UploadRefused(f"{name} is empty")
    return path


async def _drain(part: BodyPartReader, limit: int = MAX_UPLOAD) -> None:
    """Read what is left of a refused file (up to `limit`), so the browser gets the answer
    rather than a reset connection."""
    read = 0
    while read <= limit and (chunk := await part.read_chunk(CHUNK)):
        read += len(chunk)


def _safe_name(name: str) -> str:
    """The uploaded file's own name, reduced to a plain file name (the records' `source`
    names it, and the report)."""
    base = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(c if c.isalnum() or c in "._- " else "_" for c in base).strip(" ._")
    if not kept:
        return ""
    stem, dot, suffix = kept.rpartition(".")
    return (f"{stem[:100]}.{suffix[:10]}" if dot else kept[:100]) or secrets.token_hex(4)


def _remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def add_routes(app: web.Application, site: ConsoleSite) -> DataPages:
    pages = DataPages(site)
    app.router.add_get("/imports", pages.imports_page)
    app.router.add_post("/imports", pages.upload)
    app.router.add_get("/imports/status", pages.import_status)
    app.router.add_get("/events", pages._shower(EVENTS))
    app.router.add_post("/events", pages.add_feed)
    app.router.add_get("/admins", pages._shower(ADMINS))
    app.router.add_post("/admins", pages.grant)
    app.router.add_get("/jobs", pages.jobs)
    app.router.add_get("/static/data-imports.js", pages.script_file)
    app.on_cleanup.append(pages.stopped)
    for page in (EVENTS, ADMINS):
        site.pages_back[page.path] = _backer(pages, page)
    return pages


def _backer(pages: DataPages, page: CommandPage) -> Any:
    async def back(
        request: web.Request, signed: SignedIn, replies: list[Reply]
    ) -> web.StreamResponse:
        return await pages.back_to(page, request, signed, replies)

    return back

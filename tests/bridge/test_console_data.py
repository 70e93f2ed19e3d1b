"""The console's data pages over real HTTP: an upload imported in the background with its
report and audit entry (as `ccin-bridge import`), refused types and sizes, calendar feeds
added and removed, admins granted and revoked through the chat commands' handlers, and the
scheduled jobs with their next runs."""

from __future__ import annotations

import asyncio
import io
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from ccin_bridge.console import data_pages, import_jobs
from ccin_bridge.handlers import imports
from ccin_bridge.store import people
from ccin_bridge.store.models import AuditEntry, CaseStudy, EventFeed
from tests.bridge.console_support import (
    PAYLOAD_FIELD,
    Site,
    browser,
    csrf_of,
    signed_in,
)
from tests.handlers.groups_support import ADMIN, ALEX_TG, say, texts

GOOD_AND_BAD = (
    "title,url,summary\n"
    "Repair Cafés in Exampleton,https://councils.coop/case-studies/exampleton-repair,Fixing\n"
    "A row with no address,,Missing its url\n"
    "Food Hubs in Sampleford,https://councils.coop/case-studies/sampleford-food,Sharing\n"
)


def upload_form(
    csrf: str | None, kind: str, name: str, content: bytes, content_type: str = "text/csv"
) -> aiohttp.FormData:
    form = aiohttp.FormData()
    if csrf is not None:
        form.add_field("csrf", csrf)
    form.add_field("kind", kind)
    form.add_field("file", io.BytesIO(content), filename=name, content_type=content_type)
    return form


async def upload(
    client: aiohttp.ClientSession, site: Site, kind: str, name: str, content: bytes
) -> aiohttp.ClientResponse:
    csrf = await csrf_of(client, site.url + "imports")
    async with client.post(
        site.url + "imports",
        data=upload_form(csrf, kind, name, content),
        allow_redirects=False,
    ) as answer:
        await answer.read()
        return answer


async def finished(client: aiohttp.ClientSession, site: Site, job: str) -> dict[str, Any]:
    """The job's state once the import is done (the page's script asks the same)."""
    async with asyncio.timeout(60):
        while True:
            async with client.get(site.url + f"imports/status?job={job}") as answer:
                assert answer.status == 200
                state: dict[str, Any] = await answer.json()
            if state["finished"]:
                return state
            await asyncio.sleep(0.1)


async def audited(site: Site, action: str) -> list[AuditEntry]:
    async with site.db.read() as session:
        return list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


async def ada_person(site: Site) -> int:
    async with site.db.read() as session:
        found = await people.person_id_of(session, "telegram", ADMIN.user_id)
    assert found is not None
    return found


async def test_signed_out_the_data_pages_lead_to_sign_in(site: Site) -> None:
    async with browser() as client:
        for path in ("imports", "events", "admins", "jobs"):
            async with client.get(site.url + path, allow_redirects=False) as page:
                assert page.status == 303
                assert page.headers["Location"] == "sign-in"
        async with client.post(
            site.url + "imports",
            data=upload_form(None, "case-studies", "a.csv", GOOD_AND_BAD.encode()),
            allow_redirects=False,
        ) as posted:
            assert posted.status == 303
        async with client.get(site.url + "imports/status?job=x") as status:
            assert status.status == 403
    async with site.db.read() as session:
        assert list(await session.scalars(select(CaseStudy.id))) == []


async def test_a_csv_with_one_bad_row_is_imported_with_its_report_and_audited(
    site: Site,
) -> None:
    async with browser() as client:
        await signed_in(client, site)
        async with client.get(site.url + "imports") as page:
            body = await page.text()
        assert 'enctype="multipart/form-data"' in body
        assert "at most 20 MB" in body
        answer = await upload(client, site, "case-studies", "cases.csv", GOOD_AND_BAD.encode())
        assert answer.status == 303
        job = re.fullmatch(r"imports\?job=([\w-]+)", answer.headers["Location"])
        assert job, answer.headers["Location"]
        state = await finished(client, site, job.group(1))
        assert (state["done"], state["total"]) == (3, 3)
        async with client.get(site.url + answer.headers["Location"]) as page:
            report = await page.text()
    assert "2 created, 0 updated, 0 unchanged; 1 row skipped because of errors" in report
    row = re.search(r"<tr><td>line 3</td><td>Skipped</td><td>([^<]+)</td></tr>", report)
    assert row, report
    assert "url" in row.group(1)
    assert "cases.csv" in report
    async with site.db.read() as session:
        titles = set(await session.scalars(select(CaseStudy.title)))
    assert titles == {"Repair Cafés in Exampleton", "Food Hubs in Sampleford"}
    [entry] = await audited(site, "import.file")
    assert entry.actor_id == await ada_person(site)
    assert entry.detail == {
        "kind": "case-studies",
        "file": "cases.csv",
        "outcome": "complete",
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "skipped": 1,
    }


async def test_the_page_shows_an_import_under_way_and_one_that_could_not_be_read(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real import, held at its first progress report until the page has been read.
    gate = threading.Event()
    real = imports.import_file

    async def held(units: Any, kind: Any, path: Path, **options: Any) -> Any:
        options["progress"](1, 3)
        await asyncio.to_thread(gate.wait, 60)
        return await real(units, kind, path, **options)

    monkeypatch.setattr(imports, "import_file", held)
    async with browser() as client:
        await signed_in(client, site)
        answer = await upload(client, site, "case-studies", "cases.csv", GOOD_AND_BAD.encode())
        job = answer.headers["Location"].split("=", 1)[1]
        try:
            async with client.get(site.url + f"imports?job={job}") as page:
                under_way = await page.text()
            async with client.get(site.url + f"imports/status?job={job}") as status:
                state = await status.json()
        finally:
            gate.set()
        assert state == {"done": 1, "total": 3, "finished": False}
        assert '<progress id="import-progress" max="3" value="1">' in under_way
        assert "1 of 3 rows" in under_way
        assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in under_way
        assert '<script src="static/data-imports.js"></script>' in under_way
        assert (await finished(client, site, job))["done"] == 3
        async with client.get(site.url + "static/data-imports.js") as script:
            assert script.content_type == "text/javascript"
            assert "import-progress" in await script.text()

        monkeypatch.setattr(imports, "import_file", real)
        broken = await upload(client, site, "projects", "projects.json", b"{not json")
        job = broken.headers["Location"].split("=", 1)[1]
        await finished(client, site, job)
        async with client.get(site.url + f"imports?job={job}") as page:
            body = await page.text()
    assert "Nothing more was imported." in body
    assert "projects.json" in body
    assert len(await audited(site, "import.file")) == 1  # the good file only


async def test_a_file_far_larger_than_a_form_is_streamed_in_and_imported(site: Site) -> None:
    rows = "".join(f"Example Supplier {n:05},Legal services\n" for n in range(4000))
    content = ("name,services\n" + rows).encode()
    assert len(content) > 128 * 1024  # twice the console's cap on other forms
    async with browser() as client:
        await signed_in(client, site)
        answer = await upload(client, site, "suppliers", "suppliers.csv", content)
        assert answer.status == 303
        state = await finished(client, site, answer.headers["Location"].split("=", 1)[1])
    assert (state["done"], state["total"]) == (4000, 4000)
    [entry] = await audited(site, "import.file")
    assert entry.detail["created"] == 4000


async def test_wrong_types_empty_and_oversize_files_are_refused_and_nothing_imported(
    site: Site,
) -> None:
    async with browser() as client:
        await signed_in(client, site)
        text = await upload(client, site, "case-studies", "notes.txt", b"title,url\n")
        assert text.status == 400
        calendar = await upload(client, site, "suppliers", "meetings.ics", b"BEGIN:VCALENDAR")
        assert calendar.status == 400
        empty = await upload(client, site, "projects", "empty.csv", b"")
        assert empty.status == 400
        big = b"title,url\n" + b"x" * (data_pages.MAX_UPLOAD + 1)
        too_big = await upload(client, site, "case-studies", "huge.csv", big)
        assert too_big.status == 413
        csrf = await csrf_of(client, site.url + "imports")
        async with client.post(
            site.url + "imports",
            data=upload_form(csrf, "case-studies", "", b""),
            allow_redirects=False,
        ) as none_chosen:
            assert none_chosen.status == 400
            assert "Choose a file to import" in await none_chosen.text()
        async with client.post(
            site.url + "imports",
            data=upload_form("forged", "case-studies", "a.csv", GOOD_AND_BAD.encode()),
            allow_redirects=False,
        ) as forged:
            assert forged.status == 403
        async with client.get(site.url + "imports") as page:
            assert page.status == 200
    said = [await r.text() for r in (text, calendar, empty, too_big)]
    assert "notes.txt cannot be imported: case studies are imported from .csv" in said[0]
    assert "not .txt" in said[0]
    assert "not .ics" in said[1]
    assert "empty.csv is empty" in said[2]
    assert "huge.csv is larger than 20 MB" in said[3]
    assert await audited(site, "import.file") == []
    async with site.db.read() as session:
        assert list(await session.scalars(select(CaseStudy.id))) == []


async def test_a_feed_is_followed_and_dropped_through_the_feeds_command(site: Site) -> None:
    async with browser() as client:
        await signed_in(client, site)
        csrf = await csrf_of(client, site.url + "events")
        async with client.post(
            site.url + "events", data={"csrf": csrf, "url": "ftp://example.org/x", "every": "6h"}
        ) as refused:
            assert "is not a web address" in await refused.text()
        async with client.post(
            site.url + "events",
            data={"csrf": csrf, "url": "https://example.org/meetings.ics", "every": "5m"},
        ) as too_often:
            assert "too often" in await too_often.text()
        async with client.post(
            site.url + "events",
            data={"csrf": csrf, "url": "https://example.org/meetings.ics", "every": "6h"},
        ) as added:
            page = await added.text()
        assert "Subscribed to feed #" in page
        assert "Upcoming events" in page
        assert "https://example.org/meetings.ics" in page
        assert "every 6h; 0 events; not fetched yet" in page
        payload = _payload_of(page, "Remove feed #")
        async with client.post(
            site.url + "press", data={"csrf": csrf, "payload": payload, "back": "events"}
        ) as removed:
            after = await removed.text()
    assert "is no longer followed" in after
    assert "<h1>Events and feeds</h1>" in after  # the outcome on the page it was pressed on
    async with site.db.read() as session:
        assert list(await session.scalars(select(EventFeed.id))) == []
    [added_entry] = await audited(site, "feed.subscribe")
    [removed_entry] = await audited(site, "feed.unsubscribe")
    assert added_entry.detail["url"] == removed_entry.detail["url"]
    assert added_entry.detail["every"] == "6h"
    assert added_entry.actor_id == removed_entry.actor_id == await ada_person(site)


async def test_admins_are_granted_and_revoked_as_in_chat(site: Site) -> None:
    await say(site.bridge, ALEX_TG, "/help")  # the bridge has met Alex's account
    async with browser() as client:
        await signed_in(client, site)
        async with client.get(site.url + "admins") as page:
            listing = await page.text()
        assert "telegram:900000001" in listing and "Ada Admin" in listing
        assert "Revoke telegram:900000001" not in listing  # nobody revokes their own right
        csrf = await csrf_of(client, site.url + "admins")
        async with client.post(
            site.url + "admins", data={"csrf": csrf, "who": "telegram:@alex"}
        ) as refused:
            assert "a @handle is not an id" in await refused.text()
        async with client.post(
            site.url + "admins", data={"csrf": csrf, "who": f"telegram:{ALEX_TG.user_id}"}
        ) as granted:
            after_grant = await granted.text()
        assert f"telegram:{ALEX_TG.user_id} is now an admin." in after_grant
        assert "granted by Ada Admin on" in after_grant
        payload = _payload_of(after_grant, f"Revoke telegram:{ALEX_TG.user_id}")
        async with client.post(
            site.url + "press", data={"csrf": csrf, "payload": payload, "back": "admins"}
        ) as revoked:
            after = await revoked.text()
    assert f"telegram:{ALEX_TG.user_id} is no longer an admin." in after
    assert "<h1>Admins</h1>" in after
    ada = await ada_person(site)
    grants, revokes = await audited(site, "admin.grant"), await audited(site, "admin.revoke")
    assert [(e.actor_id, e.detail) for e in grants] == [(ada, {"who": "telegram:700123456"})]
    assert [(e.actor_id, e.detail) for e in revokes] == [(ada, {"who": "telegram:700123456"})]
    # In chat the same command refuses to revoke your own right.
    own = texts(await say(site.bridge, ADMIN, f"/admin revoke telegram:{ADMIN.user_id}"))
    assert "You cannot revoke your own rights" in own


async def test_the_jobs_page_lists_every_scheduled_job_with_its_next_run(site: Site) -> None:
    async with browser() as client:
        await signed_in(client, site)
        async with client.get(site.url + "jobs") as answer:
            assert answer.status == 200
            body = await answer.text()
    for job in ("calendar-feeds", "event-reminders", "purge-button-state", "news-reminder"):
        assert f'<span class="hint">{job}</span>' in body
    assert "Monthly digest for" in body
    assert "not stored yet" in body  # no bridge has run the scheduler on this database
    assert re.search(r"<td>\w{3} \d\d \w{3} 20\d\d \d\d:\d\d", body)


def _payload_of(page: str, label: str) -> str:
    """The payload of the button labelled `label` (its form's hidden field before it)."""
    at = page.index(f">{label}")
    found = PAYLOAD_FIELD.findall(page[:at])
    assert found, label
    return str(found[-1]).replace("&#34;", '"').replace("&amp;", "&")


async def test_a_stopping_console_ends_an_import_after_its_batch_and_says_so(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, gate = threading.Event(), threading.Event()
    real = imports.import_file

    async def held(units: Any, kind: Any, path: Path, **options: Any) -> Any:
        entered.set()
        await asyncio.to_thread(gate.wait, 60)
        return await real(units, kind, path, **options)

    monkeypatch.setattr(imports, "import_file", held)
    jobs = import_jobs.ImportJobs(
        site.db.url.render_as_string(hide_password=False), site.bridge.settings.zone
    )
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "cases.csv").write_text(GOOD_AND_BAD, encoding="utf-8")
    job = jobs.start("case-studies", folder, folder / "cases.csv", await ada_person(site))
    await asyncio.to_thread(entered.wait, 60)
    stopping = asyncio.create_task(jobs.stop())
    await asyncio.sleep(0)  # the stop has flagged the job
    gate.set()
    await stopping
    assert job.finished and job.report is None
    assert job.error is not None and "The bridge stopped during the import" in job.error
    assert not folder.exists()  # the upload is not left behind
    [entry] = await audited(site, "import.file")  # stopped before its first batch
    assert entry.detail["outcome"] == "stopped" and entry.detail["rows_done"] == 0


async def test_an_import_stopped_after_a_committed_batch_is_audited_with_the_rows_so_far(
    site: Site, tmp_path: Path
) -> None:
    path = tmp_path / "cases.csv"
    path.write_text(GOOD_AND_BAD, encoding="utf-8")

    def stop_after_the_first_row(done: int, total: int) -> None:
        if done >= 1:
            raise imports.ImportStopped

    with pytest.raises(imports.ImportStopped):
        await imports.import_file(
            site.db.session,
            "case-studies",
            path,
            actor_id=None,
            zone=site.bridge.settings.zone,
            progress=stop_after_the_first_row,
            rows=1,
        )
    async with site.db.read() as session:
        assert list(await session.scalars(select(CaseStudy.title))) == [
            "Repair Cafés in Exampleton"
        ]
    [entry] = await audited(site, "import.file")
    assert entry.actor_id is None
    assert entry.detail == {
        "kind": "case-studies",
        "file": "cases.csv",
        "outcome": "stopped",
        "rows_done": 1,
        "rows_total": 3,
    }


async def test_an_import_that_fails_part_way_is_audited_as_failed(
    site: Site, tmp_path: Path
) -> None:
    path = tmp_path / "cases.csv"
    path.write_text(GOOD_AND_BAD, encoding="utf-8")

    def fail_after_the_first_row(done: int, total: int) -> None:
        if done >= 1:
            raise RuntimeError("the disk is full")

    with pytest.raises(RuntimeError):
        await imports.import_file(
            site.db.session,
            "case-studies",
            path,
            actor_id=None,
            zone=site.bridge.settings.zone,
            progress=fail_after_the_first_row,
            rows=1,
        )
    [entry] = await audited(site, "import.file")
    assert entry.detail["outcome"] == "failed" and entry.detail["rows_done"] == 1


async def test_imports_run_one_at_a_time_on_their_own_thread_and_at_most_three_wait(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, gate, threads = threading.Event(), threading.Event(), []
    real = imports.import_file

    async def held(units: Any, kind: Any, path: Path, **options: Any) -> Any:
        threads.append(threading.current_thread().name)
        entered.set()
        await asyncio.to_thread(gate.wait, 60)
        return await real(units, kind, path, **options)

    monkeypatch.setattr(imports, "import_file", held)
    jobs = import_jobs.ImportJobs(
        site.db.url.render_as_string(hide_password=False), site.bridge.settings.zone
    )
    ada = await ada_person(site)
    started = []
    for n in range(import_jobs.MAX_JOBS):
        folder = tmp_path / f"upload{n}"
        folder.mkdir()
        (folder / "cases.csv").write_text(GOOD_AND_BAD, encoding="utf-8")
        started.append(jobs.start("case-studies", folder, folder / "cases.csv", ada))
    with pytest.raises(import_jobs.ImportsBusy, match="imports are under way or waiting"):
        jobs.start("case-studies", tmp_path, tmp_path / "more.csv", ada)
    await asyncio.to_thread(entered.wait, 60)
    assert len(threads) == 1  # the others wait their turn
    gate.set()
    async with asyncio.timeout(60):
        await jobs.wait()
    assert all(job.finished and job.report is not None for job in started)
    assert all(name.startswith("console-import") for name in threads) and len(threads) == 3
    await jobs.stop()


async def test_a_finished_report_keeps_the_first_500_problems_and_counts_them_all(
    site: Site, tmp_path: Path
) -> None:
    jobs = import_jobs.ImportJobs(
        site.db.url.render_as_string(hide_password=False), site.bridge.settings.zone
    )
    folder = tmp_path / "upload"
    folder.mkdir()
    bad = "".join(f"Case {n},,no address\n" for n in range(600))
    (folder / "cases.csv").write_text("title,url,summary\n" + bad, encoding="utf-8")
    job = jobs.start("case-studies", folder, folder / "cases.csv", await ada_person(site))
    async with asyncio.timeout(60):
        await jobs.wait()
    await jobs.stop()
    assert job.report is not None and len(job.report.errors) == import_jobs.KEPT_PROBLEMS
    assert job.errors == 600 and "600 rows skipped" in job.summary


def test_upload_folders_a_killed_bridge_left_are_swept_at_start(tmp_path: Path) -> None:
    old, new = tmp_path / "ccin-console-import-old", tmp_path / "ccin-console-import-new"
    other = tmp_path / "someone-elses"
    for folder in (old, new, other):
        folder.mkdir()
        (folder / "cases.csv").write_text("title\n", encoding="utf-8")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    os.utime(other, (two_days_ago, two_days_ago))
    assert import_jobs.sweep_stale_folders(root=tmp_path) == 1
    assert not old.exists() and new.exists() and other.exists()


async def test_an_upload_of_two_files_or_fields_not_the_forms_own_is_refused(site: Site) -> None:
    async with browser() as client:
        await signed_in(client, site)
        csrf = await csrf_of(client, site.url + "imports")
        assert csrf is not None
        two_files = upload_form(csrf, "case-studies", "a.csv", GOOD_AND_BAD.encode())
        two_files.add_field("file", io.BytesIO(b"title,url\n"), filename="b.csv")
        extra = aiohttp.FormData()
        extra.add_field("csrf", csrf)
        extra.add_field("padding", "x" * 1000)
        extra.add_field("kind", "case-studies")
        extra.add_field("file", io.BytesIO(GOOD_AND_BAD.encode()), filename="a.csv")
        twice = aiohttp.FormData()
        twice.add_field("csrf", csrf)
        twice.add_field("kind", "case-studies")
        twice.add_field("kind", "suppliers")
        twice.add_field("file", io.BytesIO(GOOD_AND_BAD.encode()), filename="a.csv")
        said = []
        for form in (two_files, extra, twice):
            async with client.post(site.url + "imports", data=form, allow_redirects=False) as a:
                assert a.status == 400
                said.append(await a.text())
    assert "Choose one file to import at a time" in said[0]
    assert all("The form was not one the console sent" in text for text in said[1:])
    assert await audited(site, "import.file") == []
    async with site.db.read() as session:
        assert list(await session.scalars(select(CaseStudy.id))) == []

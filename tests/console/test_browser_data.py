"""The console's data pages in a real headless Chromium, against the real `ccin-bridge run` on
the fake Telegram Bot API: an admin uploads a CSV with one bad row and reads the importer's
report, and every data page passes axe-core's WCAG 2.2 A/AA checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.console.browsing import (
    By,
    WebDriver,
    accessibility_problems,
    console_bridge,
    in_thread,
    shows,
    sign_in,
)
from tests.fakes.telegram_api import FakeTelegramAPI

pytestmark = pytest.mark.slow  # a real bridge process and a real browser

ONE_BAD_ROW = (
    "title,url,summary\n"
    "Repair Cafés in Exampleton,https://councils.coop/case-studies/exampleton-repair,Fixing\n"
    "A row with no address,,Missing its url\n"
    "Food Hubs in Sampleford,https://councils.coop/case-studies/sampleford-food,Sharing\n"
)


async def test_an_admin_uploads_a_csv_with_one_bad_row_and_reads_the_report(
    fake_api: FakeTelegramAPI, browser: WebDriver, tmp_path: Path
) -> None:
    upload = tmp_path / "case-studies.csv"
    upload.write_text(ONE_BAD_ROW, encoding="utf-8")
    async with console_bridge(tmp_path, fake_api) as running:
        await sign_in(browser, fake_api, running.url)

        await in_thread(browser.find_element(By.LINK_TEXT, "Imports").click)
        await shows(browser, "Import a file")
        assert await in_thread(accessibility_problems, browser) == []
        await in_thread(browser.find_element(By.XPATH, "//button[.='Import']").click)
        await shows(browser, "Choose a file to import")  # nothing chosen: said on the field
        assert await in_thread(accessibility_problems, browser) == []

        browser.find_element(By.ID, "kind").send_keys("Case studies")
        browser.find_element(By.ID, "file").send_keys(str(upload))
        await in_thread(browser.find_element(By.XPATH, "//button[.='Import']").click)
        # The page follows the import (its script) and shows the report when it is done.
        report = await shows(browser, "1 row skipped because of errors", within=60)
        assert "2 created" in report
        row = browser.find_element(By.XPATH, "//tr[td[1]='line 3']").text
        assert "Skipped" in row and "url" in row
        assert await in_thread(accessibility_problems, browser) == []

        await in_thread(browser.find_element(By.LINK_TEXT, "Events and feeds").click)
        await shows(browser, "Calendar feeds")
        assert await in_thread(accessibility_problems, browser) == []
        browser.find_element(By.ID, "url").send_keys("https://example.org/meetings.ics")
        await in_thread(browser.find_element(By.XPATH, "//button[.='Follow this feed']").click)
        await shows(browser, "Subscribed to feed #")
        assert await in_thread(accessibility_problems, browser) == []

        await in_thread(browser.find_element(By.LINK_TEXT, "Admins").click)
        await shows(browser, "Grant admin rights")
        assert await in_thread(accessibility_problems, browser) == []

        await in_thread(browser.find_element(By.LINK_TEXT, "Jobs").click)
        await shows(browser, "calendar-feeds")
        assert await in_thread(accessibility_problems, browser) == []

        await in_thread(browser.find_element(By.LINK_TEXT, "Audit log").click)
        await shows(browser, "import.file", tag="table")

"""The Engagement page in a real headless Chromium, against the real `ccin-bridge run` on the
fake Telegram Bot API: after a join approved and a broadcast with a link, its charts are drawn
with their tables, and axe-core finds nothing to fix."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.console.browsing import (
    ADA,
    ALEX,
    By,
    WebDriver,
    accessibility_problems,
    console_bridge,
    in_thread,
    said_to,
    shows,
    sign_in,
)
from tests.fakes.telegram_api import FakeTelegramAPI

pytestmark = pytest.mark.slow  # a real bridge process and a real browser

PUBLIC = "https://bridge.example.org"


def _public(config: dict[str, Any]) -> None:
    config.setdefault("http", {})["public_url"] = PUBLIC


async def test_the_engagement_page_draws_its_charts_accessibly(
    fake_api: FakeTelegramAPI, browser: WebDriver, tmp_path: Path
) -> None:
    async with console_bridge(tmp_path, fake_api, _public) as running:
        await fake_api.push_message(ADA, "/start")
        await said_to(fake_api, ADA, "")
        for line in ("/join officers", "/join officers --accept", "Oxford City Council"):
            await fake_api.push_message(ALEX, line)
            await asyncio.sleep(0.5)
        await fake_api.push_message(ALEX, "officers")
        await said_to(fake_api, ADA, "Alex")  # the approval card reached the admin

        await sign_in(browser, fake_api, running.url)
        await in_thread(browser.find_element(By.LINK_TEXT, "Join requests").click)
        await shows(browser, "Alex Example")
        approve = browser.find_element(By.XPATH, "//button[starts-with(., 'Approve #')]")
        await in_thread(approve.click)
        await said_to(fake_api, ALEX, "approved")
        # A broadcast with a link, typed as in chat: its link goes through the redirect.
        browser.find_element(By.ID, "line").send_keys(
            "broadcast officers --send The plan: https://example.org/plan"
        )
        await in_thread(browser.find_element(By.XPATH, "//button[.='Send']").click)
        await shows(browser, "Queued broadcast")
        message = await said_to(fake_api, ALEX, "The plan:")
        assert "https://example.org/plan" in message  # the words are the same

        await in_thread(browser.find_element(By.LINK_TEXT, "Engagement").click)
        main = await shows(browser, "Approval times")
        assert "Members per group and platform" in main
        images = browser.find_elements(By.CSS_SELECTOR, "svg[role='img']")
        titles = [i.find_element(By.TAG_NAME, "title").get_attribute("textContent") for i in images]
        assert "Members per group and platform: Officer Network" in titles
        assert "Deliveries and clicks per digest and broadcast" in titles
        captions = [c.text for c in browser.find_elements(By.TAG_NAME, "caption")]
        assert "Approval times: the numbers" in captions
        assert await in_thread(accessibility_problems, browser) == []
        links = [
            a.get_attribute("href") for a in browser.find_elements(By.PARTIAL_LINK_TEXT, "CSV")
        ]
        assert running.url + "engagement/members.csv" in links

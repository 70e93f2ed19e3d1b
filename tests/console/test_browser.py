"""The console in a real headless Chromium, against the real `ccin-bridge run` on the fake
Telegram Bot API: an admin signs in with the code the bot sends to their Telegram chat,
approves a join request, and signs out."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

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
)
from tests.fakes.telegram_api import FakeTelegramAPI

pytestmark = pytest.mark.slow  # a real bridge process and a real browser


async def test_an_admin_signs_in_approves_a_request_and_signs_out(
    fake_api: FakeTelegramAPI, browser: WebDriver, tmp_path: Path
) -> None:
    async with console_bridge(tmp_path, fake_api) as running:
        url = running.url
        await fake_api.push_message(ADA, "/start")
        await said_to(fake_api, ADA, "")
        for line in ("/join officers", "/join officers --accept", "Oxford City Council"):
            await fake_api.push_message(ALEX, line)
            await asyncio.sleep(0.5)
        await fake_api.push_message(ALEX, "officers")
        await said_to(fake_api, ADA, "Alex")  # the approval card reached the admin

        await in_thread(browser.get, url)
        assert "Sign in" in browser.title  # signed out: only the sign-in page
        assert await in_thread(accessibility_problems, browser) == []
        browser.find_element(By.ID, "handle").send_keys("@ada_admin")
        await in_thread(browser.find_element(By.CSS_SELECTOR, "button.primary").click)
        message = await said_to(fake_api, ADA, "sign-in code")
        code = re.findall(r"\b[2-9A-Z]{4}-[2-9A-Z]{4}\b", message)[0]
        assert await in_thread(accessibility_problems, browser) == []
        browser.find_element(By.ID, "code").send_keys(code)
        await in_thread(browser.find_element(By.CSS_SELECTOR, "form button.primary").click)
        await shows(browser, "Signed in as Ada Admin", tag="header")

        await in_thread(browser.find_element(By.LINK_TEXT, "Join requests").click)
        await shows(browser, "Alex Example")
        assert await in_thread(accessibility_problems, browser) == []
        approve = browser.find_element(By.XPATH, "//button[starts-with(., 'Approve #')]")
        await in_thread(approve.click)
        result = browser.find_element(By.CSS_SELECTOR, ".result").text
        assert "Alex Example" in result
        assert await in_thread(accessibility_problems, browser) == []
        await said_to(fake_api, ALEX, "approved")  # told through the outbox, as from chat

        await in_thread(browser.find_element(By.LINK_TEXT, "Members").click)
        await shows(browser, "Remove a member")
        assert "Alex Example" in browser.find_element(By.ID, "person").text
        assert await in_thread(accessibility_problems, browser) == []

        await in_thread(browser.find_element(By.LINK_TEXT, "Broadcast").click)
        assert await in_thread(accessibility_problems, browser) == []
        await in_thread(browser.find_element(By.XPATH, "//button[.='Preview']").click)
        await shows(browser, "There is a problem")
        assert await in_thread(accessibility_problems, browser) == []  # the error state too

        await in_thread(browser.find_element(By.LINK_TEXT, "Audit log").click)
        assert "console.sign_in" in browser.find_element(By.TAG_NAME, "table").text
        assert await in_thread(accessibility_problems, browser) == []

        await in_thread(browser.find_element(By.XPATH, "//button[.='Sign out']").click)
        await shows(browser, "You have signed out.")
        await in_thread(browser.get, url + "join-requests")
        assert "Sign in" in browser.title
    assert code not in "".join(running.said)  # the code is never logged

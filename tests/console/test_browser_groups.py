"""Changing a group's rules in a real headless Chromium, against the real `ccin-bridge run` on
the fake Telegram Bot API: the member is asked to accept the new version through the outbox,
accepts in chat, and the page shows it; every page state is axe-core clean."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.console.browsing import (
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

NEW_RULES = "Be kind and assume good faith.\nWhat is said in the group stays in the group."


def _officers_open(config: dict[str, Any]) -> None:
    for group in config["groups"]:
        if group["slug"] == "officers":
            group["join_policy"] = "open"


async def test_change_a_groups_rules(
    fake_api: FakeTelegramAPI, browser: WebDriver, tmp_path: Path
) -> None:
    async with console_bridge(tmp_path, fake_api, _officers_open) as running:
        for line in ("/join officers", "/join officers --accept", "Oxford City Council"):
            await fake_api.push_message(ALEX, line)
            await asyncio.sleep(0.5)
        await fake_api.push_message(ALEX, "officers")
        await said_to(fake_api, ALEX, "Welcome to")
        await sign_in(browser, fake_api, running.url)

        await in_thread(browser.find_element(By.LINK_TEXT, "Groups").click)
        await shows(browser, "Settings now")
        assert await in_thread(accessibility_problems, browser) == []
        await in_thread(browser.find_element(By.LINK_TEXT, "Edit Officer Network").click)
        await shows(browser, "Rules acceptance by member")
        assert "accepted version 1" in browser.find_element(By.TAG_NAME, "main").text
        assert await in_thread(accessibility_problems, browser) == []

        description = browser.find_element(By.ID, "description")
        description.clear()
        await in_thread(browser.find_element(By.XPATH, "//button[.='Save']").click)
        await shows(browser, "There is a problem")
        assert await in_thread(accessibility_problems, browser) == []  # the error state too

        browser.find_element(By.ID, "description").send_keys("For council officers.")
        rules = browser.find_element(By.ID, "rules")
        rules.clear()
        rules.send_keys(NEW_RULES)
        await in_thread(browser.find_element(By.XPATH, "//button[.='Save']").click)
        outcome = await shows(browser, "now version 2")
        assert "1 member asked to accept them" in outcome
        assert await in_thread(accessibility_problems, browser) == []

        asked = await said_to(fake_api, ALEX, "rules of engagement have changed")
        assert "What is said in the group stays in the group." in asked
        message = next(
            m for m in reversed(fake_api.sent) if m.chat_id == ALEX.id and m.text == asked
        )
        await fake_api.press(ALEX, message, "I accept")  # the button names the version shown
        await said_to(fake_api, ALEX, "Thank you for accepting version 2")
        await in_thread(browser.get, running.url + "group?g=officers")
        await shows(browser, "accepted version 2")
        assert await in_thread(accessibility_problems, browser) == []

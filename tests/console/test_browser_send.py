"""The sending pages in a real headless Chromium, against the real `ccin-bridge run` on the
fake Telegram Bot API: Ada composes a broadcast, sees it as Telegram will show it, sends it,
and watches its delivery report fill in by itself while the bot delivers (one member's
messages held until then, one has blocked the bot); then the Deliveries list, and the digest
previewed and sent early. axe-core finds nothing on any page."""

from __future__ import annotations

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
    sign_in,
)
from tests.fakes.telegram_api import FakeTelegramAPI, TgUser

pytestmark = pytest.mark.slow  # a real bridge process and a real browser

SAM = TgUser(2003, "Sam", "Sample", username="samsample")


def choose(browser: WebDriver, field: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(By.ID, field)).select_by_value(value)


async def click(browser: WebDriver, xpath: str) -> None:
    await in_thread(browser.find_element(By.XPATH, xpath).click)


async def test_a_broadcast_is_previewed_sent_and_its_report_fills_in(
    fake_api: FakeTelegramAPI, browser: WebDriver, tmp_path: Path
) -> None:
    async with console_bridge(tmp_path, fake_api) as running:
        for person in (ADA, ALEX, SAM):
            await fake_api.push_message(person, "/subscribe announcements")
            await said_to(fake_api, person, "subscribed")
        fake_api.block(SAM.id)  # since then
        await sign_in(browser, fake_api, running.url)

        await click(browser, "//nav//a[.='Broadcast']")
        await shows(browser, "Message")
        assert await in_thread(accessibility_problems, browser) == []
        choose(browser, "audience", "everyone")
        browser.find_element(By.ID, "text").send_keys(
            "Our meeting moves to Thursday: https://example.org/meet"
        )
        await click(browser, "//button[.='Preview']")
        await shows(browser, "It would go to 3 chats.")
        bubble = browser.find_element(By.CSS_SELECTOR, ".preview-telegram .preview-message")
        assert "Announcement for Everyone" in bubble.text
        link = bubble.find_element(By.TAG_NAME, "a")
        assert link.get_attribute("href") == "https://example.org/meet"
        assert await in_thread(accessibility_problems, browser) == []

        fake_api.hold(ALEX.id)  # Telegram has not answered for Alex yet
        await click(browser, "//button[.='Send']")
        summary = await shows(browser, "Still going out:")
        assert "Alex Example" in browser.find_element(By.CSS_SELECTOR, "table").text
        assert await in_thread(accessibility_problems, browser) == []
        browser.execute_script("window.sameReport = true;")  # gone if the page reloads
        fake_api.let_through(ALEX.id)
        summary = await shows(browser, "It has all gone out:", within=30)
        assert "It has all gone out: 2 sent, 0 failed, 1 blocked the bot." in summary
        assert browser.execute_script("return window.sameReport === true;")  # filled in place
        rows = browser.find_element(By.CSS_SELECTOR, "table").text
        assert "Sam Sample (@samsample) Telegram blocked the bot" in rows
        assert "Alex Example (@alexexample) Telegram sent" in rows
        assert await in_thread(accessibility_problems, browser) == []
        await said_to(fake_api, ALEX, "Our meeting moves to Thursday")

        await click(browser, "//nav//a[.='Deliveries']")
        await shows(browser, "Broadcast to Everyone")
        assert await in_thread(accessibility_problems, browser) == []
        await click(browser, "//a[contains(., 'Broadcast to Everyone')]")
        await shows(browser, "It has all gone out")

        await click(browser, "//nav//a[.='Digest']")
        await shows(browser, "Audience")
        assert await in_thread(accessibility_problems, browser) == []
        choose(browser, "audience", "officers")
        await click(browser, "//button[.='Show the coming edition']")
        await shows(browser, "digest for Officers")
        assert await in_thread(accessibility_problems, browser) == []
        await click(browser, "//button[.='Send it early']")
        await shows(browser, "Yes, send it now")
        assert await in_thread(accessibility_problems, browser) == []
        await click(browser, "//button[.='Yes, send it now']")
        await shows(browser, "digest for Officers")
        await shows(browser, "It had no recipients.")  # nobody takes the officers' digest
        assert await in_thread(accessibility_problems, browser) == []

"""The README's screenshots of the admin console, made anew from the real bridge.

    .venv/bin/python -m tests.console.screenshots docs/screenshots

starts `ccin-bridge run` on the fake Telegram Bot API (as the browser tests do), signs Ada in
with the code the bot sends, gives the pages something to show (a join request, subscribers,
a broadcast with a link) and saves each main page as PNG in the folder given. People in it are
made up; the network's data is its real seed data.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from tests.console.browsing import (
    ALEX,
    By,
    WebDriver,
    console_bridge,
    in_thread,
    said_to,
    shows,
    sign_in,
    start_chromium,
)
from tests.fakes.telegram_api import FakeTelegramAPI, TgUser

SAM = TgUser(2003, "Sam", "Sample", username="samsample")
WIDTH, HEIGHT = 1280, 1100


async def _click(browser: WebDriver, xpath: str) -> None:
    await in_thread(browser.find_element(By.XPATH, xpath).click)


async def _shoot(browser: WebDriver, out: Path, name: str) -> None:
    await in_thread(browser.save_screenshot, str(out / f"{name}.png"))
    print(out / f"{name}.png")


async def make(out: Path) -> None:
    from selenium.webdriver.support.ui import Select

    browser = start_chromium()
    browser.set_window_size(WIDTH, HEIGHT)
    try:
        with tempfile.TemporaryDirectory(prefix="ccin-screenshots-") as folder:
            async with FakeTelegramAPI() as api, console_bridge(Path(folder), api) as running:
                for person in (ALEX, SAM):
                    await api.push_message(person, "/subscribe announcements")
                    await said_to(api, person, "subscribed")
                for line in ("/join officers", "/join officers --accept", "Oxford City Council"):
                    await api.push_message(ALEX, line)
                    await asyncio.sleep(0.5)
                await api.push_message(ALEX, "officers")  # the role
                await said_to(api, ALEX, "")
                await sign_in(browser, api, running.url)
                await _shoot(browser, out, "overview")
                await _click(browser, "//nav//a[.='Join requests']")
                await shows(browser, "Alex Example")
                await _shoot(browser, out, "join-requests")
                await _click(browser, "//button[starts-with(., 'Approve #')]")
                await said_to(api, ALEX, "approved")
                await _click(browser, "//nav//a[.='Broadcast']")
                Select(browser.find_element(By.ID, "audience")).select_by_value("everyone")
                browser.find_element(By.ID, "text").send_keys(
                    "The Officer Network meets on Tuesday.\n\nAgenda and papers: "
                    "https://example.org/officer-network"
                )
                await _click(browser, "//button[.='Preview']")
                await shows(browser, "It would go to")
                await _shoot(browser, out, "broadcast-preview")
                await _click(browser, "//button[.='Send']")
                await shows(browser, "Delivery report")
                await api.wait_for(lambda: len(api.sent) > 4, within=30)
                await in_thread(browser.refresh)
                await _shoot(browser, out, "delivery-report")
                for label, name in (("Groups", "groups"), ("Imports", "imports")):
                    await _click(browser, f"//nav//a[.='{label}']")
                    await _shoot(browser, out, name)
                await _click(browser, "//nav//a[.='Engagement']")
                chart = browser.find_element(By.CSS_SELECTOR, "svg.chart")
                browser.execute_script("arguments[0].scrollIntoView();", chart)
                await _shoot(browser, out, "engagement")
    finally:
        browser.quit()


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    asyncio.run(make(folder))

"""Shared by the browser tests: a real `ccin-bridge run` with its console on the fake
Telegram Bot API, signing in with the code the bot sends, and axe-core's checks in the page."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI, TgUser
from tests.processes import bridge_env, start_bridge

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402

__all__ = ["By", "WebDriver"]

REPO = Path(__file__).resolve().parents[2]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ADA = TgUser(2001, "Ada", "Admin", username="ada_admin")
ALEX = TgUser(2002, "Alex", "Example", username="alexexample")
AXE = Path(__file__).with_name("vendor") / "axe.min.js"


def start_chromium() -> WebDriver:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        missing = "Debian's chromium and chromium-driver are not installed (.ci/run installs them)"
        if os.environ.get("CI"):
            pytest.fail(missing)  # never skipped in CI
        pytest.skip(missing)
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    driver: WebDriver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.implicitly_wait(10)
    return driver


async def read_until(stream: asyncio.StreamReader, needle: str, within: float = 60) -> str:
    seen = ""
    try:
        async with asyncio.timeout(within):
            while needle not in seen:
                line = await stream.readline()
                if not line:
                    raise AssertionError(f"process ended before printing {needle!r}: {seen}")
                seen += line.decode()
    except TimeoutError:
        raise AssertionError(f"no {needle!r} within {within} s: {seen}") from None
    return seen


async def said_to(api: FakeTelegramAPI, user: TgUser, needle: str) -> str:
    try:
        await api.wait_for(
            lambda: any(m.chat_id == user.id and needle in m.text for m in api.sent), within=30
        )
    except (AssertionError, TimeoutError):
        sent = [m.text for m in api.sent if m.chat_id == user.id]
        raise AssertionError(f"no {needle!r} to {user.first_name}; sent: {sent}") from None
    return next(m.text for m in reversed(api.sent) if m.chat_id == user.id and needle in m.text)


def accessibility_problems(driver: WebDriver) -> list[str]:
    """axe-core's WCAG 2.2 A/AA violations on the page shown (vendored, run in the page)."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    found = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']})"
        ".then(r => done(r.violations.map(v => v.id + ': ' + v.help + ' ' +"
        " v.nodes.map(n => n.target.join(' ') + ' (' + n.failureSummary + ')').join(', '))));"
    )
    assert isinstance(found, list)
    return [str(v) for v in found]


def _shows(driver: WebDriver, needle: str, within: float, tag: str) -> str:
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    def has(d: WebDriver) -> bool:
        try:
            return needle in d.find_element(By.TAG_NAME, tag).text
        except StaleElementReferenceException:  # the next page is loading
            return False

    try:
        WebDriverWait(driver, within).until(has)
    except TimeoutException:
        raise AssertionError(f"no {needle!r} on the page: {driver.page_source[:2000]}") from None
    return str(driver.find_element(By.TAG_NAME, tag).text)


async def shows(driver: WebDriver, needle: str, within: float = 15, tag: str = "main") -> str:
    """The page's main text once it holds `needle`: a click's next page may still be loading
    when Selenium returns, so tests wait for what they expect rather than read at once."""
    return await asyncio.to_thread(_shows, driver, needle, within, tag)


async def in_thread(function: Callable[..., Any], *args: object) -> Any:
    # Selenium blocks: the fake API and the bridge's pipes must keep running meanwhile.
    return await asyncio.to_thread(function, *args)


@dataclass
class RunningConsole:
    url: str  # the console's address, ending in "/"
    process: asyncio.subprocess.Process
    said: list[str]  # what the bridge printed: checked for secrets when it stops


@asynccontextmanager
async def console_bridge(
    tmp_path: Path,
    fake_api: FakeTelegramAPI,
    change: Callable[[dict[str, Any]], None] | None = None,
) -> AsyncIterator[RunningConsole]:
    """`ccin-bridge run` on the fake Bot API, the repository's config with Ada as admin and
    the console on; `change` may edit that config first. Stops it with SIGTERM (exit 0)."""
    config = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    config["admins"] = [f"telegram:{ADA.id}"]
    config["console"] = {"enabled": True, "host": "127.0.0.1", "port": 0}
    if change is not None:
        change(config)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    env = bridge_env(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=fake_api.base_url)
    process = await start_bridge(tmp_path, "run", env=env, log_file=False)
    assert process.stdout is not None and process.stderr is not None
    running: RunningConsole | None = None
    try:
        said = await read_until(process.stderr, "admin console on http://")
        port = int(re.findall(r"admin console on http://127\.0\.0\.1:(\d+)/", said)[0])
        running = RunningConsole(f"http://127.0.0.1:{port}/", process, [said])
        yield running
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            out, err = await process.communicate()
        if running is not None:
            running.said.append((out + err).decode())
    assert process.returncode == 0, err.decode()


async def sign_in(browser: WebDriver, fake_api: FakeTelegramAPI, url: str) -> str:
    """Sign Ada in with the code the bot sends to her Telegram chat; the code."""
    await fake_api.push_message(ADA, "/start")
    await said_to(fake_api, ADA, "")
    await in_thread(browser.get, url)
    browser.find_element(By.ID, "handle").send_keys("@ada_admin")
    await in_thread(browser.find_element(By.CSS_SELECTOR, "button.primary").click)
    message = await said_to(fake_api, ADA, "sign-in code")
    code: str = re.findall(r"\b[2-9A-Z]{4}-[2-9A-Z]{4}\b", message)[0]
    browser.find_element(By.ID, "code").send_keys(code)
    await in_thread(browser.find_element(By.CSS_SELECTOR, "form button.primary").click)
    await shows(browser, "Signed in as Ada Admin", tag="header")
    return code

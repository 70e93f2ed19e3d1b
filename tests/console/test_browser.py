"""The console in a real headless Chromium, against the real `ccin-bridge run` on the fake
Telegram Bot API: an admin signs in with the code the bot sends to their Telegram chat,
approves a join request, and signs out."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import yaml

from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI, TgUser
from tests.processes import bridge_env, start_bridge

pytestmark = pytest.mark.slow  # a real bridge process and a real browser

REPO = Path(__file__).resolve().parents[2]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ADA = TgUser(2001, "Ada", "Admin", username="ada_admin")
ALEX = TgUser(2002, "Alex", "Example", username="alexexample")

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402


@pytest.fixture
def browser() -> Iterator[WebDriver]:
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
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.implicitly_wait(10)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api


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


AXE = Path(__file__).with_name("vendor") / "axe.min.js"


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


async def in_thread(function: object, *args: object) -> object:
    # Selenium blocks: the fake API and the bridge's pipes must keep running meanwhile.
    assert callable(function)
    return await asyncio.to_thread(function, *args)


async def test_an_admin_signs_in_approves_a_request_and_signs_out(
    fake_api: FakeTelegramAPI, browser: WebDriver, tmp_path: Path
) -> None:
    config = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    config["admins"] = [f"telegram:{ADA.id}"]
    config["console"] = {"enabled": True, "host": "127.0.0.1", "port": 0}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    env = bridge_env(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=fake_api.base_url)
    process = await start_bridge(tmp_path, "run", env=env, log_file=False)
    assert process.stdout is not None and process.stderr is not None
    try:
        said = await read_until(process.stderr, "admin console on http://")
        port = int(re.findall(r"admin console on http://127\.0\.0\.1:(\d+)/", said)[0])
        url = f"http://127.0.0.1:{port}/"
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
        assert "Signed in as Ada Admin" in browser.find_element(By.TAG_NAME, "header").text

        await in_thread(browser.find_element(By.LINK_TEXT, "Join requests").click)
        assert "Alex Example" in browser.find_element(By.TAG_NAME, "main").text
        assert await in_thread(accessibility_problems, browser) == []
        approve = browser.find_element(By.XPATH, "//button[starts-with(., 'Approve #')]")
        await in_thread(approve.click)
        result = browser.find_element(By.CSS_SELECTOR, ".result").text
        assert "Alex Example" in result
        assert await in_thread(accessibility_problems, browser) == []
        await said_to(fake_api, ALEX, "approved")  # told through the outbox, as from chat

        await in_thread(browser.find_element(By.LINK_TEXT, "Broadcast").click)
        assert await in_thread(accessibility_problems, browser) == []
        await in_thread(browser.find_element(By.XPATH, "//button[.='Preview']").click)
        assert "There is a problem" in browser.find_element(By.TAG_NAME, "main").text
        assert await in_thread(accessibility_problems, browser) == []  # the error state too

        await in_thread(browser.find_element(By.LINK_TEXT, "Audit log").click)
        assert "console.sign_in" in browser.find_element(By.TAG_NAME, "table").text
        assert await in_thread(accessibility_problems, browser) == []

        await in_thread(browser.find_element(By.XPATH, "//button[.='Sign out']").click)
        assert "You have signed out." in browser.find_element(By.TAG_NAME, "main").text
        await in_thread(browser.get, url + "join-requests")
        assert "Sign in" in browser.title
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert code not in (out + err).decode()  # the code is never logged

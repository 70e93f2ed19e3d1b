"""Fixtures of the browser tests: Debian's headless Chromium and the fake Telegram Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.console.browsing import WebDriver, start_chromium
from tests.fakes.telegram_api import FakeTelegramAPI


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    driver = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api

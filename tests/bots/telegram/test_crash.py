"""kill -9 of a real `ccin-bridge run` right after Telegram has handed over a batch of messages:
the next start answers every one of them (Telegram itself will not send them again)."""

from __future__ import annotations

import asyncio
import shutil
import signal
from pathlib import Path

import pytest

from tests.bots.telegram.test_run import REPO, read_until
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI, TgUser
from tests.processes import bridge_env, start_bridge

pytestmark = pytest.mark.slow  # each test starts the bridge as a real process
PEOPLE = [TgUser(5000 + n, f"Person{n}", "Example") for n in range(40)]


async def _start(fake_api: FakeTelegramAPI, tmp_path: Path) -> asyncio.subprocess.Process:
    env = bridge_env(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=fake_api.base_url)
    process = await start_bridge(tmp_path, "run", env=env)
    assert process.stdout is not None
    await read_until(process.stdout, "running on Telegram")
    return process


async def test_messages_fetched_before_a_kill_are_answered_after_the_restart(
    fake_api: FakeTelegramAPI, tmp_path: Path
) -> None:
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    first = await _start(fake_api, tmp_path)
    try:
        pushed = [await fake_api.push_message(p, "/search community energy") for p in PEOPLE]
        await fake_api.wait_confirmed(pushed[-1], within=30)  # Telegram considers them delivered
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    second = await _start(fake_api, tmp_path)
    try:
        await fake_api.wait_for(lambda: all(fake_api.sent_to(p.id) for p in PEOPLE), within=60)
    finally:
        second.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            _, err = await second.communicate()
    assert second.returncode == 0, err.decode()
    unanswered = [p.first_name for p in PEOPLE if not fake_api.sent_to(p.id)]
    assert unanswered == []

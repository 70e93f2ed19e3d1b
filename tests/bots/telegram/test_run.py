"""`ccin-bridge run` as a real process, with only TELEGRAM_* variables pointing at the fake."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from pathlib import Path

from tests.bots.telegram.conftest import ALICE
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI

REPO = Path(__file__).resolve().parents[3]


async def read_until(stream: asyncio.StreamReader, needle: str, within: float = 60) -> str:
    seen = ""
    async with asyncio.timeout(within):
        while needle not in seen:
            line = await stream.readline()
            if not line:
                raise AssertionError(f"process ended before printing {needle!r}: {seen}")
            seen += line.decode()
    return seen


async def test_run_serves_telegram_until_sigterm(fake_api: FakeTelegramAPI, tmp_path: Path) -> None:
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=fake_api.base_url, PYTHONPATH=str(REPO)
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots.cli", "--config", str(tmp_path / "config.yaml"), "run",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    try:
        await read_until(process.stdout, "running on Telegram")
        await fake_api.push_message(ALICE, "/suppliers solicitors")
        await fake_api.wait_for(
            lambda: any("Anthony Collins Solicitors" in m.text for m in fake_api.sent), within=20
        )
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert "ccin-bridge stopped." in out.decode()
    log = (tmp_path / "data" / "ccin-bridge.log").read_text()
    assert "telegram adapter started" in log
    assert TOKEN not in (out + err).decode() + log  # the token reaches neither console nor log
    assert fake_api.calls_to("setMyCommands")

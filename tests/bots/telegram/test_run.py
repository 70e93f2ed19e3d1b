"""`ccin-bridge run` as a real process, with only TELEGRAM_* variables pointing at the fake."""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import socket
from pathlib import Path

import aiohttp
import pytest

from tests.bots.telegram.conftest import ALICE
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI
from tests.processes import bridge_env, start_bridge

pytestmark = pytest.mark.slow  # each test starts the bridge as a real process
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
    env = bridge_env(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=fake_api.base_url)
    # Logged to standard error, as a service under systemd or Docker is expected to.
    process = await start_bridge(tmp_path, "run", env=env, log_file=False)
    assert process.stdout is not None and process.stderr is not None
    try:
        await read_until(process.stdout, "running on Telegram")
        said = await read_until(process.stderr, "health, readiness and metrics on http://")
        port = int(re.findall(r"http://127\.0\.0\.1:(\d+)/", said)[0])
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            async with http.get("/healthz") as alive:
                assert alive.status == 200
            async with http.get("/readyz") as ready:
                checks = await ready.json()
                assert ready.status == 200, checks
                assert checks["checks"]["platform:telegram"]["ok"]
            async with http.get("/metrics") as scraped:
                assert "ccin_bridge_leader 1.0" in await scraped.text()
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
    log = said + err.decode()
    assert " INFO ccin_bridge: telegram adapter started" in log
    assert "configuration: " in log and "(from --config)" in log  # which file, said
    assert "Adding job tentatively" not in log  # the scheduler's chatter stays below INFO
    assert not (tmp_path / "data" / "ccin-bridge.log").exists()
    assert TOKEN not in (out + err).decode()  # the token reaches neither console nor log
    assert fake_api.calls_to("setMyCommands")


async def test_run_with_a_webhook_serves_only_requests_with_the_secret(
    fake_api: FakeTelegramAPI, tmp_path: Path
) -> None:
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    secret = "run-test_secret"
    env = bridge_env(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=fake_api.base_url,
        TELEGRAM_WEBHOOK_SECRET=secret,
    )
    process = await start_bridge(
        tmp_path,
        "run",
        "--telegram-webhook",
        "https://bridge.example.org/ccin/telegram",
        "--telegram-listen",
        f"127.0.0.1:{port}",
        env=env,
    )
    assert process.stdout is not None and process.stderr is not None
    url = f"http://127.0.0.1:{port}/ccin/telegram"
    try:
        await read_until(process.stdout, "running on Telegram")
        assert fake_api.webhook is not None and fake_api.webhook["secret_token"] == secret
        update = fake_api.new_update("message", fake_api.message(ALICE, "/suppliers solicitors"))
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=update) as refused:
                assert refused.status == 403
            headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
            async with http.post(url, json=update, headers=headers) as accepted:
                assert accepted.status == 200
        await fake_api.wait_for(
            lambda: any("Anthony Collins Solicitors" in m.text for m in fake_api.sent), within=20
        )
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert fake_api.calls_to("getUpdates") == []  # no polling beside the webhook
    assert sum("Anthony Collins Solicitors" in m.text for m in fake_api.sent) == 1
    log = (tmp_path / "data" / "ccin-bridge.log").read_text()
    assert secret not in (out + err).decode() + log


async def test_run_refuses_a_webhook_that_is_not_https(tmp_path: Path) -> None:
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    env = bridge_env(TELEGRAM_BOT_TOKEN=TOKEN)
    process = await start_bridge(
        tmp_path, "run", "--telegram-webhook", "http://bridge.example.org/hook", env=env
    )
    async with asyncio.timeout(60):
        _, err = await process.communicate()
    assert process.returncode == 2
    assert "--telegram-webhook 'http://bridge.example.org/hook'" in err.decode()
    assert "https://" in err.decode() and "Traceback" not in err.decode()

"""`ccin-bridge run` as a real process serving Slack, configured only by SLACK_* variables."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
import yaml

from tests.bots.slack.sender import ALICE, SIGNING_SECRET, sign
from tests.bots.telegram.test_run import read_until
from tests.fakes.slack_api import APP_TOKEN, FakeSlack
from tests.processes import bridge_env, start_bridge

pytestmark = pytest.mark.slow  # each test starts the bridge as a real process
REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_run_serves_signed_slash_commands_until_sigterm(tmp_path: Path) -> None:
    port = free_port()
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["slack_http"] = {"host": "127.0.0.1", "port": port}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    fake = FakeSlack()
    await fake.start()
    fake.add_user(ALICE.id, ALICE.handle, "Alice Example")
    env = bridge_env(
        SLACK_BOT_TOKEN=fake.token, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=fake.api_url
    )
    process = await start_bridge(tmp_path, "run", env=env)
    assert process.stdout is not None
    try:
        await read_until(process.stdout, "running on Slack")
        body = urlencode({
            "team_id": "T0CCIN", "channel_id": "C0GENERAL", "channel_name": "general",
            "user_id": ALICE.id, "user_name": ALICE.handle, "command": "/ccin",
            "text": "suppliers solicitors", "api_app_id": "A0CCIN",
            "response_url": fake.response_url("run"), "trigger_id": "1.2.3",
        })  # fmt: skip
        ts = int(time.time())
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": sign(body, ts),
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers) as r,
        ):
            assert r.status == 200
        await fake.wait_for(
            lambda: any("Anthony Collins Solicitors" in c.text for c in fake.responses("run"))
        )
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            out, err = await process.communicate()
        await fake.stop()
    assert process.returncode == 0, err.decode()
    assert "ccin-bridge stopped." in out.decode()
    assert fake.token not in (out + err).decode()
    assert fake.bad_messages() == []


def test_slack_token_without_signing_secret_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    result = subprocess.run(
        [sys.executable, "-m", "ccin_bridge", "--config", str(tmp_path / "config.yaml"), "run"],
        env=bridge_env(SLACK_BOT_TOKEN="xoxb-1"),
        capture_output=True, text=True, cwd=tmp_path, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 2
    assert "SLACK_SIGNING_SECRET" in result.stderr and "Traceback" not in result.stderr


async def test_run_in_socket_mode_with_an_app_token_and_no_port(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    fake = FakeSlack()
    await fake.start()
    # No signing secret: Socket Mode needs none.
    env = bridge_env(
        SLACK_BOT_TOKEN=fake.token, SLACK_APP_TOKEN=APP_TOKEN, SLACK_API_URL=fake.api_url
    )
    process = await start_bridge(tmp_path, "run", env=env)
    assert process.stdout is not None
    try:
        await read_until(process.stdout, "running on Slack")
        command = {
            "team_id": "T0CCIN", "channel_id": "C0GENERAL", "channel_name": "general",
            "user_id": ALICE.id, "user_name": ALICE.handle, "command": "/ccin",
            "text": "suppliers solicitors", "api_app_id": "A0CCIN",
            "response_url": fake.response_url("socket"), "trigger_id": "1.2.3",
        }  # fmt: skip
        envelope = await fake.socket_send("slash_commands", command, accepts_response_payload=True)
        await fake.socket_ack(envelope)
        await fake.wait_for(
            lambda: any("Anthony Collins Solicitors" in c.text for c in fake.responses("socket"))
        )
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            out, err = await process.communicate()
        await fake.stop()
    assert process.returncode == 0, err.decode()
    assert [c.ok for c in fake.api_calls("apps.connections.open")] == [True]
    assert APP_TOKEN not in (out + err).decode() and fake.token not in (out + err).decode()
    assert fake.bad_messages() == []

"""No credential reaches the log file, at any level (issue 11, item 7a).

Bot API URLs carry the Telegram token, and at DEBUG httpx, httpcore, PTB and slack-sdk log
URLs, requests and answers. The last test runs `ccin-bridge run --log-level DEBUG` as a real
process serving both platforms against the local fakes, and reads the log it wrote.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
import yaml

from ccin_bridge.handlers.config import Secrets
from ccin_bridge.log_redaction import PLACEHOLDER, SecretFilter, install_secret_filter, secrets_of
from tests.bots.slack.sender import ALICE as SLACK_ALICE
from tests.bots.slack.sender import SIGNING_SECRET, sign
from tests.bots.slack.test_run import free_port
from tests.bots.telegram.conftest import ALICE
from tests.bots.telegram.test_run import read_until
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI
from tests.processes import bridge_env, start_bridge

REPO = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "webhook-secret_0123456789"


def _record(msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("httpx", logging.DEBUG, __file__, 1, msg, args, exc_info)


def _formatted(record: logging.LogRecord, secrets: list[str]) -> str:
    assert SecretFilter(secrets).filter(record) is True  # never drops a record
    return logging.Formatter("%(levelname)s %(name)s: %(message)s").format(record)


def test_every_configured_secret_is_replaced_in_the_message_and_its_arguments() -> None:
    secrets = Secrets.from_env(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "SLACK_BOT_TOKEN": "xoxb-1-secret",
            "SLACK_APP_TOKEN": "xapp-1-A1-secret",
            "SLACK_SIGNING_SECRET": "0123abcd4567",
            "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "DATABASE_URL": "sqlite:///x.db",  # an endpoint, not a secret: left alone
        }
    )
    values = secrets_of(secrets)
    assert len(values) == 5
    record = _record(
        "HTTP Request: POST %s %r, signed with %s; secret %s (%s)",
        f"http://127.0.0.1/bot{TOKEN}/getMe",
        {"token": "xoxb-1-secret", "app": "xapp-1-A1-secret"},
        "0123abcd4567",
        WEBHOOK_SECRET,
        "sqlite:///x.db",
    )
    line = _formatted(record, values)
    assert all(v not in line for v in values), line
    assert "sqlite:///x.db" in line and line.count(PLACEHOLDER) == 5
    assert record.args is None  # later handlers see the redacted message too


def test_token_shapes_are_replaced_even_when_not_configured() -> None:
    line = _formatted(
        _record(
            "url %s and %s, %s",
            "https://api.telegram.org/bot987654:other-bot_token/sendMessage",
            "also 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw bare",
            "xoxp-12-34-abc",
        ),
        [],
    )
    assert "other-bot_token" not in line and "AAHdqTcv" not in line and "xoxp-12" not in line
    assert f"/bot{PLACEHOLDER}/sendMessage" in line


def test_a_record_whose_arguments_do_not_fit_is_redacted_not_dropped() -> None:
    line = _formatted(_record("two %s %s", f"bot{TOKEN}"), [TOKEN])
    assert "two %s %s" in line and TOKEN not in line


def test_a_traceback_is_redacted_too() -> None:
    try:
        raise ConnectionError(f"cannot reach https://api.telegram.org/bot{TOKEN}/getUpdates")
    except ConnectionError as exc:
        line = _formatted(_record("polling failed", exc=exc), [TOKEN])
    assert "Traceback" in line and "ConnectionError" in line
    assert TOKEN not in line and "TEST-fake-token" not in line


def test_it_filters_every_record_a_handler_is_given_whoever_logged_it(tmp_path: Path) -> None:
    handler = logging.FileHandler(tmp_path / "log", encoding="utf-8")
    install_secret_filter(handler, Secrets.from_env({"TELEGRAM_BOT_TOKEN": TOKEN}))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        logging.getLogger("httpcore.http11").warning("request to /bot%s/getMe", TOKEN)
    finally:
        root.removeHandler(handler)
        handler.close()
    written = (tmp_path / "log").read_text()
    assert "/getMe" in written and TOKEN not in written


@pytest.mark.slow
async def test_run_at_debug_writes_no_credential_to_the_log(tmp_path: Path) -> None:
    port = free_port()
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["slack_http"] = {"host": "127.0.0.1", "port": port}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    slack = FakeSlack()
    await slack.start()
    slack.add_user(SLACK_ALICE.id, SLACK_ALICE.handle, "Alice Example")
    try:
        async with FakeTelegramAPI() as telegram:
            env = bridge_env(
                TELEGRAM_BOT_TOKEN=TOKEN,
                TELEGRAM_API_BASE_URL=telegram.base_url,
                TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
                SLACK_BOT_TOKEN=slack.token,
                SLACK_SIGNING_SECRET=SIGNING_SECRET,
                SLACK_API_URL=slack.api_url,
            )
            process = await start_bridge(tmp_path, "--log-level", "DEBUG", "run", env=env)
            # (its log goes to --log-file data/ccin-bridge.log; see start_bridge)
            assert process.stdout is not None
            try:
                await read_until(process.stdout, "ccin-bridge is running")
                await telegram.push_message(ALICE, "/suppliers solicitors")
                await telegram.wait_for(
                    lambda: any("Anthony Collins" in m.text for m in telegram.sent), within=20
                )
                await _slash_command(port, slack)
            finally:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                async with asyncio.timeout(30):
                    out, err = await process.communicate()
    finally:
        await slack.stop()
    assert process.returncode == 0, err.decode()
    log = (tmp_path / "data" / "ccin-bridge.log").read_text()
    assert " DEBUG " in log and "sendMessage" in log  # the requests were logged, at DEBUG
    written = log + (out + err).decode()
    for secret in (TOKEN, slack.token, SIGNING_SECRET, WEBHOOK_SECRET):
        assert secret not in written, secret
    assert "TEST-fake-token" not in written


async def _slash_command(port: int, slack: FakeSlack) -> None:
    body = urlencode(
        {
            "team_id": "T0CCIN",
            "channel_id": "C0GENERAL",
            "channel_name": "general",
            "user_id": SLACK_ALICE.id,
            "user_name": SLACK_ALICE.handle,
            "command": "/ccin",
            "text": "suppliers solicitors",
            "api_app_id": "A0CCIN",
            "response_url": slack.response_url("debug"),
            "trigger_id": "1.2.3",
        }
    )
    ts = int(time.time())
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(body, ts),
    }
    url = f"http://127.0.0.1:{port}/slack/events"
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers):
        pass
    await slack.wait_for(lambda: any("Anthony Collins" in c.text for c in slack.responses("debug")))

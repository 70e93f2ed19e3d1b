"""Where the log goes and what a line looks like: standard error or a rotating file, text or
JSON, no secret, and no library chatter at INFO."""

from __future__ import annotations

import json
import logging
import logging.handlers
from collections.abc import Iterator
from pathlib import Path

import pytest

from ccin_bridge.handlers.config import ConfigError, Secrets
from ccin_bridge.log_setup import CHATTY, KEEP_DAYS, configure

TOKEN = "123456:AAH-this-is-a-made-up-token-for-tests"


@pytest.fixture(autouse=True)
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in CHATTY}
    yield
    for handler in set(root.handlers) - set(handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


def test_json_lines_on_standard_error_without_secrets_or_chatter(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure("INFO", log_format="json", secrets=Secrets({"TELEGRAM_BOT_TOKEN": TOKEN}))
    logging.getLogger("ccin_bridge").info("calling /bot%s/getMe", TOKEN)
    logging.getLogger("apscheduler.scheduler").info("Adding job tentatively")
    try:
        raise ValueError("bad")
    except ValueError:
        logging.getLogger("ccin_bridge.x").exception("it failed, ünïcode kept")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [entry["logger"] for entry in lines] == ["ccin_bridge", "ccin_bridge.x"]
    assert lines[0]["level"] == "INFO" and TOKEN not in lines[0]["message"]
    assert lines[0]["message"] == "calling /bot[redacted]/getMe"
    assert lines[0]["time"].endswith("+00:00")
    assert lines[1]["message"] == "it failed, ünïcode kept"
    assert "ValueError: bad" in lines[1]["exception"]


def test_debug_lets_the_libraries_speak(capsys: pytest.CaptureFixture[str]) -> None:
    configure("DEBUG")
    logging.getLogger("apscheduler.scheduler").info("Adding job tentatively")
    assert "Adding job tentatively" in capsys.readouterr().err


def test_a_log_file_rotates_daily_and_keeps_two_weeks(tmp_path: Path) -> None:
    handler = configure("INFO", to_file=tmp_path / "logs" / "bridge.log")
    assert isinstance(handler, logging.handlers.TimedRotatingFileHandler)
    assert handler.when == "MIDNIGHT" and handler.backupCount == KEEP_DAYS
    logging.getLogger("ccin_bridge").warning("written")
    handler.flush()
    assert " WARNING ccin_bridge: written" in (tmp_path / "logs" / "bridge.log").read_text()


def test_a_log_file_that_cannot_be_written_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    for where in (tmp_path, tmp_path / "a-file" / "bridge.log"):
        with pytest.raises(ConfigError, match=r"^--log-file .*: cannot be written \("):
            configure("INFO", to_file=where)

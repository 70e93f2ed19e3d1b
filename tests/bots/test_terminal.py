"""The terminal chat: in-process with text streams, and as a real process fed by a pipe."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bots.terminal import TerminalChat
from handlers.core import Bridge

REPO = Path(__file__).resolve().parents[2]


async def converse(bridge: Bridge, script: str, name: str = "Dana") -> str:
    out = io.StringIO()
    chat = TerminalChat(bridge, name=name, stdin=io.StringIO(script), stdout=out)
    await chat.run()
    return out.getvalue()


async def test_numbers_press_the_buttons_shown_last(bridge: Bridge) -> None:
    # /start shows [1] Groups [2] Events [3] DPS suppliers [4] Help
    out = await converse(bridge, "3\n1\n")
    assert "> 3" in out and "DPS suppliers (23" in out
    assert "page 2 of 3" in out  # the only button on the suppliers page is Next


async def test_join_by_buttons_then_leave(bridge: Bridge) -> None:
    out = await converse(bridge, "/groups\n4\n1\n/leave housing\n")
    assert "Housing: rules of engagement" in out
    assert "You are now a member of Housing" in out
    assert "You have left Housing" in out


async def test_bad_input_in_the_chat(bridge: Bridge) -> None:
    script = "\n".join(
        [
            "99",
            "/nonsense",
            "/search " + "z" * 10_000,
            "/🙂",
            "hello there",
            "/search \u202efood",
            "",
        ]
    )
    out = await converse(bridge, script)
    assert "I don't know the command /nonsense" in out
    assert "That is 10,000 characters; please keep it under 500" in out
    assert "There is no choice 99; pick 1 to 4." in out
    assert "I don't know the command /🙂" in out
    assert "Did you want to search for “hello there”?" in out
    assert "Cooperative Approaches to Sustainable Food" in out
    assert "Traceback" not in out


async def test_quit_ends_the_chat(bridge: Bridge) -> None:
    out = await converse(bridge, "/quit\n/search food\n")
    assert "Sustainable Food" not in out


def run_cli(
    args: list[str], tmp_path: Path, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.yaml"
    if not config.exists():
        shutil.copy(REPO / "config.yaml", config)
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SLACK_"))}
    clean_env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "bots.cli", "--config", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={**clean_env, "PYTHONPATH": str(REPO), **env},
    )


def test_scripted_conversation_through_the_real_cli(tmp_path: Path) -> None:
    script = "/suppliers solicitors\n/search food\n/events\n/groups\n/mydata\n"
    result = run_cli(["chat", "--as", "Eve"], tmp_path, stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Anthony Collins Solicitors" in out
    assert "Cooperative Approaches to Sustainable Food" in out
    assert "Tuesday" in out and "Officer Network monthly meeting" in out
    for group in ("Officer Network", "Leaders and Mayors", "Co-operative Champions"):
        assert group in out
    assert "my-ccin-data.json" in out
    assert (tmp_path / "data" / "downloads" / "my-ccin-data.json").is_file()
    assert result.stderr == ""


def test_run_without_tokens_opens_the_terminal_chat(tmp_path: Path) -> None:
    result = run_cli(["run"], tmp_path, stdin="/help\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("No platform credentials set")
    assert "What I can do" in result.stdout


def test_db_commands_and_admin_grant(tmp_path: Path) -> None:
    upgrade = run_cli(["db", "upgrade"], tmp_path)
    assert upgrade.returncode == 0 and "database at revision 0002" in upgrade.stdout
    status = run_cli(["db", "status"], tmp_path)
    assert "suppliers 23" in status.stdout and "principles 10" in status.stdout
    again = run_cli(["db", "seed"], tmp_path)
    assert "suppliers 23" in again.stdout
    grant = run_cli(["admin", "grant", "telegram:123456"], tmp_path)
    assert grant.returncode == 0 and "is now an admin" in grant.stdout
    bad = run_cli(["admin", "grant", "whatsapp:1"], tmp_path)
    assert bad.returncode == 2 and "platform must be one of" in bad.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "mysql://x@127.0.0.1/db"}, "supports sqlite and postgresql"),
        ({"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}, "DATABASE_URL: cannot open"),
    ],
)
def test_bad_database_url_is_a_config_error(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    result = run_cli(["db", "status"], tmp_path, **env)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr

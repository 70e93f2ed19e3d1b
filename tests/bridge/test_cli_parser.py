"""The command line's parser is light: it loads no part of the bridge, and its copies of two
constants agree with the modules that own them."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ccin_bridge.cli import parser
from ccin_bridge.store.importers import KINDS

REPO = Path(__file__).resolve().parent.parent.parent


def test_the_parsers_constants_agree_with_their_owners() -> None:
    assert parser.IMPORT_KINDS == KINDS


def test_help_loads_neither_the_bridge_nor_its_libraries() -> None:
    probe = (
        "import sys\n"
        "from ccin_bridge.cli.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'sqlalchemy', 'telegram', 'slack_bolt', 'pydantic', 'aiohttp', 'apscheduler'}"
        " or m.startswith(('ccin_bridge.store', 'ccin_bridge.handlers', 'ccin_bridge.bots')))\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "usage: ccin-bridge" in result.stdout
    assert "HEAVY []" in result.stdout


def test_run_takes_each_platforms_own_options_from_the_registry() -> None:
    from ccin_bridge.handlers import platforms

    flags = [o.flag for o in platforms.run_options()]
    assert "--telegram-webhook" in flags and "--telegram-listen" in flags
    args = parser.build_parser(platforms.run_options()).parse_args(
        ["run", "--telegram-webhook", "https://bridge.example.org/t"]
    )
    assert args.telegram_webhook == "https://bridge.example.org/t"
    assert args.telegram_listen is None


@pytest.fixture
def root_logging() -> Iterator[None]:
    """`main` in this process adds its log file to the root logger: take it away after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in set(root.handlers) - set(handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


@pytest.mark.usefixtures("root_logging")
def test_a_platforms_options_need_its_credentials_and_each_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ccin_bridge.cli.main import main

    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    for name in ("TELEGRAM_BOT_TOKEN", "SLACK_BOT_TOKEN", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    config = ["--config", str(tmp_path / "config.yaml"), "run"]
    assert main([*config, "--telegram-webhook", "https://bridge.example.org/t"]) == 2
    assert "--telegram-webhook: TELEGRAM_BOT_TOKEN is not set" in capsys.readouterr().err
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    assert main([*config, "--telegram-listen", "127.0.0.1:9000"]) == 2
    assert "--telegram-listen only applies with --telegram-webhook" in capsys.readouterr().err


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    import tomllib

    from ccin_bridge.cli.main import main

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"ccin-bridge {declared}\n"


@pytest.mark.parametrize(
    ("words", "said"),
    [
        (["search", "food", "--limit", "0"], "argument --limit: 0 is not between 1 and 100"),
        (["search", "food", "--limit", "1000"], "1000 is not between 1 and 100"),
        (["search", "food", "--limit", "ten"], "'ten' is not a whole number"),
        (["audit", "--limit", "20000"], "20000 is not between 1 and 10,000"),
    ],
)
def test_a_limit_out_of_range_is_refused_not_clamped(
    words: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parser.build_parser().parse_args(words)
    assert exited.value.code == 2
    assert said in capsys.readouterr().err
    assert parser.build_parser().parse_args(["search", "food", "--limit", "100"]).limit == 100


def test_a_name_typed_two_ways_is_one_person() -> None:
    composed = parser.build_parser().parse_args(["chat", "--as", "Zo\u00eb"]).name
    decomposed = parser.build_parser().parse_args(["chat", "--as", "Zoe\u0308"]).name
    assert composed == decomposed == "Zoë"

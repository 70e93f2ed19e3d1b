"""The command line's parser is light: it loads no part of the bridge, and its copies of two
constants agree with the modules that own them."""

from __future__ import annotations

import subprocess
import sys

from ccin_bridge.bots.telegram.webhook import DEFAULT_LISTEN
from ccin_bridge.cli import parser
from ccin_bridge.store.importers import KINDS


def test_the_parsers_constants_agree_with_their_owners() -> None:
    assert parser.TELEGRAM_DEFAULT_LISTEN == DEFAULT_LISTEN
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

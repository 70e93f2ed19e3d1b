"""The real `ccin-bridge` as a child process, for the tests that start one."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path


def bridge_env(**variables: str) -> dict[str, str]:
    """This environment without any platform's variables, DATABASE_URL or settings, plus
    `variables`: the child runs only the platforms a test configures, on its own database."""
    unwanted = ("TELEGRAM_", "SLACK_", "TEAMS_", "CONNECTIONS__", "DATABASE_URL", "CCIN_BRIDGE_")
    kept = {k: v for k, v in os.environ.items() if not k.startswith(unwanted)}
    # The service's HTTP listener on any free port: tests run side by side.
    return {**kept, "CCIN_BRIDGE_HTTP__PORT": "0", **variables}


async def start_bridge(
    tmp_path: Path, *args: str, env: dict[str, str], log_file: bool = True
) -> asyncio.subprocess.Process:
    """`ccin-bridge --config tmp_path/config.yaml ARGS...` with pipes for its output. Its log
    goes to tmp_path/data/ccin-bridge.log, unless `log_file` is false: then to standard
    error, which the test must then read as it goes (a full pipe would stop the bridge)."""
    logging = ["--log-file", str(tmp_path / "data" / "ccin-bridge.log")] if log_file else []
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ccin_bridge", "--config", str(tmp_path / "config.yaml"), *logging,
        *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env, cwd=tmp_path,
    )  # fmt: skip

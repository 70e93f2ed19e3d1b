"""The real `ccin-bridge` as a child process, for the tests that start one."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path


def bridge_env(**variables: str) -> dict[str, str]:
    """This environment without any platform's variables or DATABASE_URL, plus `variables`:
    the child runs only the platforms a test configures, on its own database."""
    unwanted = ("TELEGRAM_", "SLACK_", "DATABASE_URL")
    return {**{k: v for k, v in os.environ.items() if not k.startswith(unwanted)}, **variables}


async def start_bridge(
    tmp_path: Path, *args: str, env: dict[str, str]
) -> asyncio.subprocess.Process:
    """`ccin-bridge --config tmp_path/config.yaml ARGS...` with pipes for its output."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ccin_bridge", "--config", str(tmp_path / "config.yaml"), *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env, cwd=tmp_path,
    )  # fmt: skip

"""The console beside the terminal chat: with the embedded default an admin signs in locally,
and the code the bot sends comes to the chat, as it would to a private chat elsewhere."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.bridge.console_support import CSRF_FIELD
from tests.processes import bridge_env

pytestmark = pytest.mark.slow  # a real bridge process

REPO = Path(__file__).resolve().parents[2]


async def _until(stream: asyncio.StreamReader, pattern: str, within: float = 60) -> re.Match[str]:
    seen = ""
    async with asyncio.timeout(within):
        while (found := re.search(pattern, seen)) is None:
            chunk = await stream.read(4096)
            if not chunk:
                raise AssertionError(f"the chat ended before {pattern!r}: {seen}")
            seen += chunk.decode()
    return found


async def _csrf(client: aiohttp.ClientSession, url: str) -> str:
    async with client.get(url) as page:
        found = CSRF_FIELD.search(await page.text())
    assert found
    return found.group(1)


async def test_an_admin_at_the_terminal_signs_in_with_the_code_shown_in_the_chat(
    tmp_path: Path,
) -> None:
    config = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    config["console"] = {"enabled": True, "host": "127.0.0.1", "port": 0}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ccin_bridge", "--config", str(tmp_path / "config.yaml"),
        "chat", "--as", "Ada", "--admin",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=bridge_env(), cwd=tmp_path,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    try:
        where = await _until(
            process.stdout, r"console is on (http://127\.0\.0\.1:\d+/) : sign in as (\S+) "
        )
        url, handle = where.group(1), where.group(2)
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as client:
            form = {"csrf": await _csrf(client, url + "sign-in"), "handle": handle}
            async with client.post(url + "sign-in", data=form, allow_redirects=False) as sent:
                assert sent.status == 303
            code = (await _until(process.stdout, r"\b([2-9A-Z]{4}-[2-9A-Z]{4})\b")).group(1)
            form = {"csrf": await _csrf(client, url + "code"), "code": code}
            async with client.post(url + "code", data=form, allow_redirects=False) as entered:
                assert entered.status == 303, await entered.text()
            async with client.get(url) as overview:
                assert "Signed in as Ada" in await overview.text()
        process.stdin.write(b"/quit\n")
        await process.stdin.drain()
        async with asyncio.timeout(30):
            await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0

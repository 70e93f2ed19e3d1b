"""`ccin-bridge run` as a real process serving Teams at /api/messages on its HTTP listener,
configured only by TEAMS_* variables.

Only what needs no access token is driven here: a real run gets its token from MSAL, which
would reach Microsoft (the in-process tests send answers through the fake's token endpoint).
"""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.bots.teams.conftest import TENANT
from tests.bots.telegram.test_run import read_until
from tests.fakes.teams_connector import FakeConnector, new_key
from tests.processes import bridge_env, start_bridge

pytestmark = pytest.mark.slow  # starts the bridge as a real process
REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_run_serves_teams_beside_the_probes_and_refuses_forged_tokens(
    tmp_path: Path,
) -> None:
    port = free_port()
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["http"] = {**config.get("http", {}), "host": "127.0.0.1", "port": port}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    fake = FakeConnector()
    await fake.start()
    env = bridge_env(
        TEAMS_APP_ID=fake.app_id,
        TEAMS_APP_PASSWORD=fake.app_password,
        TEAMS_TENANT_ID=TENANT,
        TEAMS_OPENID_METADATA_URL=fake.openid_url,
    )
    env.pop("CCIN_BRIDGE_HTTP__PORT")
    process = await start_bridge(tmp_path, "run", env=env)
    assert process.stdout is not None
    base = f"http://127.0.0.1:{port}"
    try:
        await read_until(process.stdout, "running on Teams")
        activity = {
            "type": "message",
            "id": "1",
            "serviceUrl": fake.service_url,
            "channelId": "msteams",
            "from": {"id": "29:ada", "aadObjectId": "0a0a0a0a-0000-4000-8000-00000000000a"},
            "conversation": {"id": "a:ada", "conversationType": "personal"},
            "recipient": {"id": "28:" + fake.app_id},
            "text": "join housing --accept",
        }
        async with aiohttp.ClientSession(base) as session:
            async with session.get("/readyz") as ready:
                body = await ready.json()
            assert body["checks"]["platform:teams"]["ok"] is True
            for token in (None, fake.token(key=new_key()), fake.token(expires_in=-600)):
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                async with session.post("/api/messages", json=activity, headers=headers) as r:
                    assert r.status == 401
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            out, err = await process.communicate()
        await fake.stop()
    assert process.returncode == 0, err.decode()
    assert fake.sent == [] and fake.tokens_issued == []
    assert fake.app_password not in (out + err).decode()
    log = (tmp_path / "data" / "ccin-bridge.log").read_text()
    assert fake.app_password not in log

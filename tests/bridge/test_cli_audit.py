"""`ccin-bridge audit`: the audit log, as text and JSON, through the real CLI process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bridge.test_cli import run_cli


@pytest.mark.slow  # runs the real CLI
def test_audit_lists_admin_actions_newest_first(tmp_path: Path) -> None:
    assert run_cli(["admin", "grant", "telegram:123456"], tmp_path).returncode == 0
    assert run_cli(["admin", "revoke", "telegram:123456"], tmp_path).returncode == 0
    text = run_cli(["audit"], tmp_path)
    assert text.returncode == 0
    lines = text.stdout.splitlines()
    assert "admin.revoke" in lines[0] and "admin.grant" in lines[1]
    assert "system" in lines[0]
    data = json.loads(run_cli(["audit", "--json", "--limit", "1"], tmp_path).stdout)
    assert [e["action"] for e in data] == ["admin.revoke"]
    assert data[0]["detail"] == {"who": "telegram:123456"}

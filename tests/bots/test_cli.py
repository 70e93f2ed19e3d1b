"""The `ccin-bridge` command line, run as a real process against a temporary data directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


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


def test_search_prints_ranked_results_and_json(tmp_path: Path) -> None:
    plain = run_cli(["search", "food"], tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.startswith("  1. Cooperative Approaches to Sustainable Food")
    as_json = run_cli(["search", "solicitors", "--kind", "supplier", "--json"], tmp_path)
    rows = json.loads(as_json.stdout)
    assert rows[0]["title"] == "Anthony Collins Solicitors" and rows[0]["kind"] == "supplier"
    assert {"title", "url", "kind", "score"} <= set(rows[0])
    odd = run_cli(["search", 'kind:nope (* NEAR "unbalanced'], tmp_path)
    assert odd.returncode == 0 and "ignored kind:nope" in odd.stderr
    assert "Traceback" not in odd.stderr


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
    versions = REPO / "store" / "migrations" / "versions"
    head = sorted(p.name[:4] for p in versions.glob("0*.py"))[-1]
    assert upgrade.returncode == 0 and f"database at revision {head}" in upgrade.stdout
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


def test_import_reports_counts_and_bad_rows_and_is_idempotent(tmp_path: Path) -> None:
    samples = REPO / "tests" / "store" / "import_samples"
    first = run_cli(["import", "case-studies", str(samples / "case_studies.csv")], tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("3 created, 0 updated")
    again = run_cli(["import", "case-studies", str(samples / "case_studies.csv")], tmp_path)
    assert "0 created" in again.stdout and "3 unchanged" in again.stdout
    ics = run_cli(["import", "events", str(samples / "calendar.ics")], tmp_path)
    assert ics.returncode == 1 and "rows skipped because of errors" in ics.stdout
    assert "line 49: missing start date" in ics.stderr
    missing = run_cli(["import", "events", str(tmp_path / "nope.csv")], tmp_path)
    assert missing.returncode == 1 and "cannot import" in missing.stderr
    assert "Traceback" not in first.stderr + ics.stderr + missing.stderr

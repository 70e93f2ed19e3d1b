"""The `ccin-bridge` command line, run as a real process against a temporary data directory."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.engine import make_url

from ccin_bridge.store.db import Database, default_url
from ccin_bridge.store.models import Identity, Person
from tests.processes import bridge_env

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # each test starts the bridge as a real process


def run_cli(
    args: list[str], tmp_path: Path, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.yaml"
    if not config.exists():
        shutil.copy(REPO / "config.yaml", config)
    return subprocess.run(
        [sys.executable, "-m", "ccin_bridge", "--config", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env=bridge_env(**env),
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


def _chat_loading(tmp_path: Path, stdin: str) -> str:
    """The chat's output, then which of the libraries it need not load it did load."""
    probe = (
        "import sys\n"
        "from ccin_bridge.cli.main import main\n"
        "code = main(sys.argv[1:])\n"
        "loaded = [m for m in ('alembic', 'apscheduler', 'ccin_bridge.store.importers')"
        " if m in sys.modules]\n"
        "print('EXIT', code, 'LOADED', loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, "--config", str(tmp_path / "config.yaml"), "chat"],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env=bridge_env(),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_chat_at_the_latest_schema_starts_without_alembic_or_the_importers(
    tmp_path: Path,
) -> None:
    first = run_cli(["chat"], tmp_path, stdin="/quit\n")  # creates, migrates and seeds
    assert first.returncode == 0, first.stderr
    # The scheduler and the outbox workers start beside the chat (they deliver pushes to
    # the terminal); the migration tool and the importers are never loaded.
    assert "EXIT 0 LOADED ['apscheduler']" in _chat_loading(tmp_path, "/quit\n")
    out = _chat_loading(tmp_path, "/events\n/help\n")
    assert "What I can do" in out and "EXIT 0 LOADED ['apscheduler']" in out


def in_a_terminal(args: list[str], tmp_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    """The bridge in a pseudo-terminal, as a person's shell runs it (its input and output are
    the terminal; its errors go to a pipe). Returns the process and the terminal's other end,
    to type into and read from."""
    config = tmp_path / "config.yaml"
    if not config.exists():
        shutil.copy(REPO / "config.yaml", config)
    typing, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "ccin_bridge", "--config", str(config), *args],
        stdin=terminal, stdout=terminal, stderr=subprocess.PIPE, cwd=tmp_path,
        env=bridge_env(),
    )  # fmt: skip
    os.close(terminal)
    return process, typing


def read_until(typing: int, text: str, within: float = 60) -> str:
    """What the terminal shows until `text` (or, with no text, until the bridge has gone)."""
    seen = b""
    deadline = time.monotonic() + within
    while not text or text.encode() not in seen:
        assert time.monotonic() < deadline, seen.decode()
        try:
            chunk = os.read(typing, 4096)
        except OSError:  # the other side has closed: the bridge has gone
            chunk = b""
        if not chunk:
            assert not text, seen.decode()
            return seen.decode()
        seen += chunk
    return seen.decode()


def test_a_one_shot_command_loads_no_handler_and_writes_nothing(tmp_path: Path) -> None:
    assert run_cli(["db", "status"], tmp_path).returncode == 0  # creates, migrates and seeds
    database = tmp_path / "data" / "ccin-bridge.sqlite3"
    probe = (
        "import sys\n"
        "from ccin_bridge.cli.main import main\n"
        "code = main(sys.argv[1:])\n"
        "loaded = [m for m in ('alembic', 'apscheduler', 'ccin_bridge.handlers.core',"
        " 'ccin_bridge.handlers.commands') if m in sys.modules]\n"
        "print('EXIT', code, 'LOADED', loaded)\n"
    )
    before = _contents(database)
    result = subprocess.run(
        [sys.executable, "-c", probe, "--config", str(tmp_path / "config.yaml"), "search", "food"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, env=bridge_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Cooperative Approaches to Sustainable Food" in result.stdout
    assert "EXIT 0 LOADED []" in result.stdout
    assert _contents(database) == before  # the groups are mirrored by run and chat


def _contents(database: Path) -> str:
    """The database's pages, with what its write-ahead log holds moved into the file."""
    import hashlib
    import sqlite3

    connection = sqlite3.connect(database)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return hashlib.sha256(database.read_bytes()).hexdigest()


def test_run_without_tokens_opens_the_terminal_chat_in_a_terminal(tmp_path: Path) -> None:
    process, typing = in_a_terminal(["run"], tmp_path)
    try:
        assert "No platform credentials set" in read_until(typing, "> ")
        os.write(typing, b"/help\n")
        read_until(typing, "What I can do")
        os.write(typing, b"/quit\n")
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.communicate()  # closes its pipes
        os.close(typing)


def test_run_without_tokens_or_a_terminal_exits_2_saying_what_to_set(tmp_path: Path) -> None:
    """As under systemd or `docker run -d`: the service must fail, so that it is restarted and
    its operator sees why, rather than exit 0 after a chat nobody can see."""
    result = run_cli(["run"], tmp_path, stdin="/help\n")
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    tokens = "SLACK_BOT_TOKEN or TEAMS_APP_ID or TELEGRAM_BOT_TOKEN"  # the registry's, in order
    assert f"no platform credentials set: set {tokens}" in line


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_chat_at_once_while_it_waits_for_a_line(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """Nobody has pressed Enter: the chat still stops, and stops what it started (it used to
    wait for Enter, and SIGTERM ended it without a word)."""
    process, typing = in_a_terminal(["chat"], tmp_path)
    try:
        read_until(typing, "> ")
        time.sleep(1)  # the scheduler starts beside the chat once it has greeted
        # Line editing (readline) has the terminal in its own mode while it waits for a line.
        assert not termios.tcgetattr(typing)[3] & termios.ICANON
        process.send_signal(signum)
        assert process.wait(timeout=15) == 0
        assert "ccin-bridge stopped." in read_until(typing, "")
        assert process.stderr is not None and "Traceback" not in process.stderr.read().decode()
        # ... and it is put back, or the person's shell would show nothing they type.
        local_modes = termios.tcgetattr(typing)[3]
        assert local_modes & termios.ECHO and local_modes & termios.ICANON
    finally:
        process.kill()
        process.communicate()  # closes its pipes
        os.close(typing)


def test_db_backup_copies_the_database_as_it_is_without_migrating_it(tmp_path: Path) -> None:
    """A backup taken by a new version before its upgrade is of the old schema: the one to
    go back to."""
    assert run_cli(["db", "upgrade"], tmp_path).returncode == 0
    database = tmp_path / "data" / "ccin-bridge.sqlite3"

    async def revision_of(url: str, downgrade_to: str | None = None) -> str | None:
        db = Database(url)
        try:
            if downgrade_to is not None:
                await db.downgrade(downgrade_to)
            return await db.current_revision()
        finally:
            await db.close()

    assert asyncio.run(revision_of(f"sqlite:///{database}", "0009")) == "0009"
    copy = tmp_path / "before-upgrade.sqlite3"
    result = run_cli(["db", "backup", str(copy)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "revision 0009, integrity ok" in result.stdout
    assert asyncio.run(revision_of(f"sqlite:///{database}")) == "0009"  # not migrated
    assert asyncio.run(revision_of(f"sqlite:///{copy}")) == "0009"
    again = run_cli(["db", "backup", str(copy)], tmp_path)
    assert again.returncode == 1 and "--force" in again.stderr
    stray = run_cli(["db", "status", "extra"], tmp_path)
    assert stray.returncode == 2 and "unrecognized arguments: extra" in stray.stderr


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
    # Ids that could never be a person's account are refused, each with why, in one line.
    for who, why in [
        ("telegram:@ada", "a @handle is not an id"),
        ("telegram:1 2", "ids have no spaces"),
        ("telegram:-1001234567890", "negative ids are group chats, not people"),
        ("slack:u012abcdef", "Slack user ids look like U012ABCDEF; lower-case is a handle"),
        ("terminal:a b", "terminal ids have no spaces"),
    ]:
        refused = run_cli(["admin", "grant", who], tmp_path)
        assert refused.returncode == 2, who
        assert why in refused.stderr and len(refused.stderr.strip().splitlines()) == 1, who
        assert "Traceback" not in refused.stderr
    audit = json.loads(run_cli(["audit", "--json"], tmp_path).stdout)
    assert [e["detail"] for e in audit if e["action"] == "admin.grant"] == [
        {"who": "telegram:123456"}
    ]


def test_admin_unlink_parts_an_account_and_is_audited(tmp_path: Path) -> None:
    assert run_cli(["db", "seed"], tmp_path).returncode == 0  # creates and seeds the store

    async def link_two_accounts() -> None:
        db = Database(default_url(tmp_path / "data"))
        try:
            async with db.session() as session:
                person = Person(display_name="Eve Example")
                session.add_all(
                    [
                        Identity(person=person, platform="telegram", external_id="4242"),
                        Identity(person=person, platform="terminal", external_id="eve"),
                    ]
                )
        finally:
            await db.close()

    asyncio.run(link_two_accounts())
    done = run_cli(["admin", "unlink", "telegram:4242"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Unlinked telegram:4242 (Telegram id 4242) from terminal id eve" in done.stdout
    again = run_cli(["admin", "unlink", "telegram:4242"], tmp_path)
    assert again.returncode == 1 and "not linked to another account" in again.stderr
    nobody = run_cli(["admin", "unlink", "slack:U0NOBODY"], tmp_path)
    assert nobody.returncode == 1 and "No account slack:U0NOBODY" in nobody.stderr
    assert run_cli(["admin", "unlink", "telegram:@eve"], tmp_path).returncode == 2
    audit = json.loads(run_cli(["audit", "--json"], tmp_path).stdout)
    [entry] = [e for e in audit if e["action"] == "person.unlink"]
    assert entry["actor_id"] is None
    assert entry["detail"]["who"] == "telegram:4242" and entry["detail"]["by_admin"] is True


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
    assert ics.returncode == 1 and "skipped because of errors" in ics.stdout
    assert "line 49: missing start date" in ics.stderr
    missing = run_cli(["import", "events", str(tmp_path / "nope.csv")], tmp_path)
    assert missing.returncode == 1 and "cannot import" in missing.stderr
    assert "Traceback" not in first.stderr + ics.stderr + missing.stderr
    # Audited as the console's Imports page audits an upload (handlers/imports.py).
    audit = json.loads(run_cli(["audit", "--json"], tmp_path).stdout)
    imported = [e for e in reversed(audit) if e["action"] == "import.file"]
    assert [(e["actor_id"], e["detail"]["file"]) for e in imported] == [
        (None, "case_studies.csv"),
        (None, "case_studies.csv"),
        (None, "calendar.ics"),
    ]
    assert imported[0]["detail"] == {
        "kind": "case-studies",
        "file": "case_studies.csv",
        "outcome": "complete",
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
    }


def test_a_database_that_cannot_be_opened_says_why_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be")
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["data_dir"] = "blocker/data"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    blocked = run_cli(["db", "status"], tmp_path)
    assert blocked.returncode == 2
    assert f"{tmp_path / 'blocker'} is a file, not a folder" in blocked.stderr
    assert "Traceback" not in blocked.stderr
    refused = run_cli(["db", "status"], tmp_path, DATABASE_URL="postgresql://u@127.0.0.1:1/x")
    (line,) = refused.stderr.splitlines()
    assert refused.returncode == 2
    assert "DATABASE_URL: cannot open" in line and "connection refused" in line


@pytest.mark.postgres
def test_a_postgresql_that_refuses_says_which_database_or_role(
    tmp_path: Path, postgres_server: str
) -> None:
    server = make_url(postgres_server)
    for refused, why in [
        (server.set(database="ccin_no_such_database"), 'database "ccin_no_such_database" does'),
        (server.set(username="ccin_no_such_role"), 'role "ccin_no_such_role" does not'),
    ]:
        url = refused.render_as_string(hide_password=False)
        result = run_cli(["db", "status"], tmp_path, DATABASE_URL=url)
        (line,) = result.stderr.splitlines()
        assert result.returncode == 2 and why in line, line


def test_each_name_at_the_terminal_is_its_own_person_and_admin_is_kept(tmp_path: Path) -> None:
    first = run_cli(["chat", "--as", "李雷"], tmp_path, stdin="/mydata\n")
    assert first.returncode == 0, first.stderr
    assert "terminal chat as 李雷" in first.stdout
    other = run_cli(["chat", "--as", "Ada"], tmp_path, stdin="/mydata\n")
    assert "李雷" not in other.stdout  # not the shared Guest account any more
    for empty in ("", "   ", "!!"):
        refused = run_cli(["chat", "--as", empty], tmp_path)
        assert refused.returncode == 2 and "give a name with a letter or a digit" in refused.stderr
    admin = run_cli(["chat", "--as", "Ada", "--admin"], tmp_path, stdin="/quit\n")
    assert "Ada is an admin at this terminal from now on" in admin.stdout
    later = run_cli(["chat", "--as", "Ada"], tmp_path, stdin="/pending\n")  # no --admin now
    assert later.returncode == 0 and "/pending" in later.stdout
    assert "is for network admins only" not in later.stdout
    audit = run_cli(["audit", "--json"], tmp_path)
    assert any(e["action"] == "admin.grant" for e in json.loads(audit.stdout))
    never = run_cli(["admin", "revoke", "terminal:nobody-seen"], tmp_path)
    assert never.returncode == 0 and "nothing changed" in never.stdout

    async def accounts() -> list[str]:
        db = Database(default_url(tmp_path / "data"))
        try:
            async with db.read() as session:
                return list(await session.scalars(select(Identity.external_id)))
        finally:
            await db.close()

    assert sorted(asyncio.run(accounts())) == ["ada", "李雷"]  # no person made for the revoke

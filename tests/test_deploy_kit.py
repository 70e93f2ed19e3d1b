"""The deploy kit (Dockerfile, compose.yaml, deploy/), checked without Docker or systemd running.

Each file is parsed and held to what the bridge itself declares: the folders pyproject builds
the wheel from, the secrets the registered platforms read, the settings that may come from
the environment. Where the tools are installed, `docker compose config` and
`systemd-analyze verify` check the files as Docker and systemd read them.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from ccin_bridge.cli import backup as backup_command
from ccin_bridge.handlers import platforms
from ccin_bridge.handlers.config import CONFIG_ENV, DATABASE_ENV, Settings
from ccin_bridge.store.db import Database, async_url

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
SETTINGS_PREFIX = "CCIN_BRIDGE_"
# Variables the kit sets for others than the bridge.
FOREIGN = {
    "PYTHONUNBUFFERED",  # Python: logs reach `docker logs` at once
    "PYTHONDONTWRITEBYTECODE",
    "POSTGRES_USER",  # the postgres image
    "POSTGRES_DB",
    "POSTGRES_PASSWORD_FILE",
}


# --- what the bridge reads --------------------------------------------------------------------


def _secret_names() -> set[str]:
    """The variables `Secrets` reads: DATABASE_URL and every registered platform's."""
    names = {DATABASE_ENV}
    for spec in platforms.registered().values():
        names.update(spec.env_names)
    return names


def _credentials() -> set[str]:
    """The secrets among them (not endpoints), which the kit hands over as files."""
    secret = {DATABASE_ENV}
    for spec in platforms.registered().values():
        secret.update(v.name for v in spec.env if v.secret)
    return secret


def _setting_names() -> set[str]:
    """CCIN_BRIDGE_<KEY> and CCIN_BRIDGE_<KEY>__<SUBKEY> for every setting of config.yaml,
    the platforms' own sections included."""
    sections: dict[str, type[BaseModel] | None] = {}
    for name, info in Settings.model_fields.items():
        if name == "platform_settings":
            continue
        kind = info.annotation
        sections[name] = kind if isinstance(kind, type) and issubclass(kind, BaseModel) else None
    for spec in platforms.registered().values():
        if spec.settings_key is not None:
            sections[spec.settings_key] = spec.settings
    names = {CONFIG_ENV}
    for key, model in sections.items():
        names.add(f"{SETTINGS_PREFIX}{key.upper()}")
        for sub in model.model_fields if model is not None else ():
            names.add(f"{SETTINGS_PREFIX}{key.upper()}__{sub.upper()}")
    return names


def _read_by_the_bridge() -> set[str]:
    secrets = _secret_names()
    return secrets | {f"{name}_FILE" for name in secrets} | _setting_names()


def test_the_settings_the_kit_relies_on_are_settings() -> None:
    known = _read_by_the_bridge()
    assert {
        "CCIN_BRIDGE_DATA_DIR",
        "CCIN_BRIDGE_HTTP__HOST",
        "CCIN_BRIDGE_HTTP__PORT",
        "CCIN_BRIDGE_SLACK_HTTP__HOST",
        "DATABASE_URL_FILE",
        "TELEGRAM_BOT_TOKEN_FILE",
    } <= known
    assert "CCIN_BRIDGE_NO_SUCH_THING" not in known


# --- the Dockerfile ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    name: str
    value: str

    def exec_form(self) -> list[str]:
        """The JSON array of `CMD ["a", "b"]` (after any options such as `--interval=`)."""
        array = self.value[self.value.index("[") :]
        parsed = json.loads(array)
        assert isinstance(parsed, list)
        return [str(word) for word in parsed]


def dockerfile_stages(text: str) -> list[list[Instruction]]:
    """The Dockerfile's instructions, continuation lines joined, by stage (FROM to FROM)."""
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):  # a comment inside a continued instruction
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    stages: list[list[Instruction]] = []
    for line in logical:
        name, _, value = line.strip().partition(" ")
        instruction = Instruction(name.upper(), " ".join(value.split()))
        if instruction.name == "FROM":
            stages.append([])
        assert stages, f"{instruction.name} before the first FROM"
        stages[-1].append(instruction)
    return stages


@pytest.fixture(scope="module")
def stages() -> list[list[Instruction]]:
    return dockerfile_stages((REPO / "Dockerfile").read_text(encoding="utf-8"))


def _all(stage: list[Instruction], name: str) -> list[Instruction]:
    return [i for i in stage if i.name == name]


def _one(stage: list[Instruction], name: str) -> Instruction:
    found = _all(stage, name)
    assert len(found) == 1, f"expected one {name}, found {len(found)}"
    return found[0]


def _env(stage: list[Instruction]) -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in _all(stage, "ENV"):
        for pair in shlex.split(instruction.value):
            key, sep, value = pair.partition("=")
            assert sep, f"ENV {pair!r}: write ENV KEY=VALUE"
            values[key] = value
    return values


def _build_inputs() -> set[str]:
    """What the wheel is built from: pyproject's package folders, its readme and licence."""
    setuptools = PYPROJECT["tool"]["setuptools"]
    folders = set(setuptools["package-dir"].values())
    return (
        folders
        | {"pyproject.toml", PYPROJECT["project"]["readme"]}
        | set(PYPROJECT["project"]["license-files"])
    )


def test_the_wheel_is_built_in_a_stage_of_its_own(stages: list[list[Instruction]]) -> None:
    assert len(stages) == 2
    builder, final = stages
    assert _one(builder, "FROM").value == "python:3.11-slim AS builder"
    assert _one(final, "FROM").value.split()[0] == "python:3.11-slim"
    copied = {word for i in _all(builder, "COPY") for word in i.value.split()[:-1]}
    assert copied == _build_inputs()
    assert any("pip wheel" in i.value and "/wheels" in i.value for i in _all(builder, "RUN"))
    install = [i.value for i in _all(final, "RUN") if "pip install" in i.value]
    assert len(install) == 1
    assert "from=builder" in install[0]
    assert "--no-index" in install[0]  # the final stage fetches nothing
    assert not _all(final, "COPY")  # no sources in the image, only the installed wheel


def test_the_bridge_runs_as_a_user_with_its_data_in_a_volume(
    stages: list[list[Instruction]],
) -> None:
    final = stages[-1]
    users = _all(final, "USER")
    assert users, "the image must not run as root"
    user = users[-1].value.split(":")[0]
    assert user not in ("root", "0")
    # Set up as root, then everything after the last USER runs as the bridge's user.
    assert final.index(users[-1]) > max(final.index(i) for i in _all(final, "RUN"))
    env = _env(final)
    assert env["CCIN_BRIDGE_DATA_DIR"] == "/data"
    assert _one(final, "VOLUME").value == env["CCIN_BRIDGE_DATA_DIR"]
    assert env["CCIN_BRIDGE_HTTP__HOST"] == "0.0.0.0"
    assert env["PYTHONUNBUFFERED"] == "1"  # logs reach `docker logs` as they are written
    assert {"8080", "3000"} <= set(_one(final, "EXPOSE").value.split())


def test_the_image_starts_the_bridge(stages: list[list[Instruction]]) -> None:
    final = stages[-1]
    entrypoint = _one(final, "ENTRYPOINT").exec_form()
    assert entrypoint == ["ccin-bridge"]
    assert "ccin-bridge" in PYPROJECT["project"]["scripts"]
    assert _one(final, "CMD").exec_form() == ["run"]


def test_the_healthcheck_asks_healthz_with_python(stages: list[list[Instruction]]) -> None:
    healthcheck = _one(stages[-1], "HEALTHCHECK")
    command = healthcheck.exec_form()
    assert command[:2] == ["python", "-c"]  # slim has no curl
    assert "/healthz" in command[2]
    assert "--interval=" in healthcheck.value
    assert "--start-period=" in healthcheck.value


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        found = self.path == "/healthz"
        self.send_response(self.status if found else 404)
        self.end_headers()
        self.wfile.write(b"ok" if found else b"")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet


@pytest.fixture
def health_server() -> Iterator[tuple[int, type[_Health]]]:
    handler = type("Handler", (_Health,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_the_healthcheck_passes_on_ok_and_fails_otherwise(
    stages: list[list[Instruction]], health_server: tuple[int, type[_Health]]
) -> None:
    port, handler = health_server
    command = [sys.executable, *_one(stages[-1], "HEALTHCHECK").exec_form()[1:]]
    env = {**os.environ, "CCIN_BRIDGE_HTTP__PORT": str(port)}
    assert subprocess.run(command, env=env, capture_output=True, timeout=30).returncode == 0
    handler.status = 503
    assert subprocess.run(command, env=env, capture_output=True, timeout=30).returncode == 1


def test_the_build_context_holds_the_sources_alone() -> None:
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert lines[0] == "*"  # everything out (.git, .venv, data, deploy/secrets) ...
    kept = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert kept == _build_inputs()  # ... but what the wheel is built from
    assert "**/__pycache__" in lines


# --- compose.yaml -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_compose_starts_the_bridge_once_postgresql_is_ready(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"bridge", "postgres"}
    postgres, bridge = services["postgres"], services["bridge"]
    assert postgres["image"] == "postgres:16"
    probe = postgres["healthcheck"]["test"]
    assert probe[0] == "CMD" and probe[1] == "pg_isready"
    assert f"--username={postgres['environment']['POSTGRES_USER']}" in probe
    assert bridge["build"] == "."
    assert bridge["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert bridge["restart"] == postgres["restart"] == "unless-stopped"
    # The bridge stops within 10 s of SIGTERM: Docker must wait longer before killing it.
    grace = re.fullmatch(r"(\d+)s", bridge["stop_grace_period"])
    assert grace and int(grace.group(1)) > 10
    # Health and metrics for this host only; a reverse proxy publishes what must be public.
    assert all(str(port).startswith("127.0.0.1:") for port in bridge["ports"])


def test_compose_keeps_its_data_in_named_volumes(
    compose: dict[str, Any], stages: list[list[Instruction]]
) -> None:
    declared = set(compose["volumes"])
    mounts = {
        name: dict(m.split(":")[::-1][:2][::-1] for m in service.get("volumes", []))
        for name, service in compose["services"].items()
    }
    data = _one(stages[-1], "VOLUME").value
    assert [v for v, where in mounts["bridge"].items() if where == data] != []
    assert "/var/lib/postgresql/data" in mounts["postgres"].values()
    used = {v for service in mounts.values() for v in service if not v.startswith((".", "/"))}
    assert used == declared


def test_compose_hands_every_secret_over_as_a_file(compose: dict[str, Any]) -> None:
    declared = compose["secrets"]
    for name, secret in declared.items():
        assert set(secret) == {"file"}, name
        assert secret["file"] == f"./deploy/secrets/{name}"
    for service_name, service in compose["services"].items():
        mounted = set(service.get("secrets", []))
        assert mounted <= set(declared)
        for key, value in service["environment"].items():
            if key.endswith("_FILE"):
                assert value.startswith("/run/secrets/"), key
                assert value.removeprefix("/run/secrets/") in mounted, key
        # No secret's value in the file: only where to read it.
        assert not set(service["environment"]) & _credentials(), service_name
    bridge = compose["services"]["bridge"]["environment"]
    assert {f"{name}_FILE" for name in _credentials()} == {k for k in bridge if k.endswith("_FILE")}
    assert set(compose["services"]["postgres"]["secrets"]) == {"postgres_password"}


def test_compose_is_hardened(compose: dict[str, Any]) -> None:
    bridge = compose["services"]["bridge"]
    assert bridge["read_only"] is True
    assert "/tmp" in bridge["tmpfs"]
    assert bridge["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in bridge["security_opt"]


def _compose_v2() -> list[str] | None:
    """`docker compose`, or a standalone `docker-compose` of version 2 or later."""
    candidates = [["docker", "compose"], ["docker-compose"]]
    for command in candidates:
        if shutil.which(command[0]) is None:
            continue
        try:
            probe = subprocess.run(
                [*command, "version", "--short"], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        version = probe.stdout.strip().lstrip("v")
        if probe.returncode == 0 and version[:1].isdigit() and int(version.split(".")[0]) >= 2:
            return command
    return None


@pytest.mark.slow
def test_docker_compose_reads_the_file() -> None:
    command = _compose_v2()
    if command is None:
        pytest.skip("Docker Compose v2 is not installed (`docker compose` or `docker-compose`)")
    checked = subprocess.run(
        [*command, "--file", str(REPO / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr


@pytest.mark.slow
def test_init_secrets_makes_every_file_compose_reads(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    folder = tmp_path / "secrets"
    script = DEPLOY / "init-secrets.sh"
    subprocess.run(["sh", str(script), str(folder)], check=True, capture_output=True, timeout=30)
    made = {p.name for p in folder.iterdir()}
    assert made == {Path(s["file"]).name for s in compose["secrets"].values()}
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700  # nobody else on the host enters
    password = (folder / "postgres_password").read_text()
    assert re.fullmatch(r"[0-9a-f]{48}", password)
    url = async_url((folder / "database_url").read_text().strip())
    postgres = compose["services"]["postgres"]["environment"]
    assert url.username == postgres["POSTGRES_USER"]
    assert url.database == postgres["POSTGRES_DB"]
    assert url.password == password
    assert url.host in compose["services"]  # the service's name on Compose's network
    assert (folder / "telegram_bot_token").read_text() == ""  # empty: not used

    # Run again: what is there (a password, a token written in) stays as it is.
    (folder / "telegram_bot_token").write_text("123456:token")
    subprocess.run(["sh", str(script), str(folder)], check=True, capture_output=True, timeout=30)
    assert (folder / "postgres_password").read_text() == password
    assert (folder / "telegram_bot_token").read_text() == "123456:token"


def test_the_secrets_folder_is_never_committed() -> None:
    ignore = (DEPLOY / "secrets" / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "*" in ignore and "!.gitignore" in ignore


# --- systemd ------------------------------------------------------------------------------------


def systemd_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file's settings by section, each key with every value it is given in order
    (configparser would keep one of a repeated key such as LoadCredential=)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: {line!r} outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: {line!r} is not KEY=VALUE"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def _single(section: dict[str, list[str]], key: str) -> str:
    values = section.get(key, [])
    assert len(values) == 1, f"{key}= given {len(values)} times"
    return values[0]


@pytest.fixture(scope="module")
def unit() -> dict[str, dict[str, list[str]]]:
    return systemd_unit(DEPLOY / "ccin-bridge.service")


def test_the_unit_runs_the_bridge_with_state_and_restarts(
    unit: dict[str, dict[str, list[str]]],
) -> None:
    service = unit["Service"]
    assert _single(service, "ExecStart").endswith("/ccin-bridge run")
    assert _single(service, "DynamicUser") == "yes"
    assert _single(service, "StateDirectory") == "ccin-bridge"
    assert _single(service, "EnvironmentFile") == "-/etc/ccin-bridge/env"
    assert _single(service, "Restart") == "on-failure"
    assert re.fullmatch(r"\d+s?", _single(service, "RestartSec"))
    # A configuration error (exit 2) is not restarted every few seconds for ever.
    assert _single(service, "RestartPreventExitStatus") == "2"
    assert _single(unit["Install"], "WantedBy") == "multi-user.target"


def test_the_unit_is_hardened(unit: dict[str, dict[str, list[str]]]) -> None:
    service = unit["Service"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
        "UMask": "0077",
    }.items():
        assert _single(service, key) == value, key


def test_the_unit_loads_every_secret_as_a_credential(
    unit: dict[str, dict[str, list[str]]],
) -> None:
    service = unit["Service"]
    loaded = dict(value.split(":", 1) for value in service["LoadCredential"])
    assert set(loaded) == _credentials()
    assert all(path == f"/etc/ccin-bridge/credentials/{name}" for name, path in loaded.items())
    # Each with a blank default, so that a platform not used needs no file.
    defaults = dict(value.split(":", 1) for value in service["SetCredential"])
    assert defaults == {name: "\\n" for name in loaded}


def test_the_backup_unit_runs_as_the_service_on_its_state(
    unit: dict[str, dict[str, list[str]]],
) -> None:
    backup_unit = systemd_unit(DEPLOY / "ccin-bridge-backup.service")["Service"]
    for key in ("DynamicUser", "User", "StateDirectory", "EnvironmentFile"):
        assert _single(backup_unit, key) == _single(unit["Service"], key), key
    assert _single(backup_unit, "Type") == "oneshot"
    assert "ccin-bridge db backup " in _single(backup_unit, "ExecStart")
    timer = systemd_unit(DEPLOY / "ccin-bridge-backup.timer")
    assert _single(timer["Timer"], "OnCalendar") == "daily"
    assert _single(timer["Timer"], "Persistent") == "true"


@pytest.mark.slow
def test_systemd_reads_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    names = ["ccin-bridge.service", "ccin-bridge-backup.service", "ccin-bridge-backup.timer"]
    for name in names:
        # The bridge is not installed at /opt here: an executable stands in for it.
        text = (DEPLOY / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace("/opt/ccin-bridge/bin/ccin-bridge", "/bin/true"))
    checked = subprocess.run(
        [analyze, "verify", *names], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr == "", checked.stderr  # "Invalid syntax, ignoring" is a warning only


# --- every variable the kit names is one the bridge reads ---------------------------------------


def _named_in_the_kit(
    stages: list[list[Instruction]], compose: dict[str, Any], unit: dict[str, dict[str, list[str]]]
) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {"Dockerfile": set(_env(stages[-1]))}
    for name, service in compose["services"].items():
        found[f"compose.yaml {name}"] = set(service.get("environment", {}))
    found["ccin-bridge.service"] = {
        value.split("=", 1)[0] for value in unit["Service"].get("Environment", [])
    }
    example = (DEPLOY / "ccin-bridge.env").read_text(encoding="utf-8")
    # Commented-out lines too: they are there to be uncommented.
    found["ccin-bridge.env"] = set(re.findall(r"^#?([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))
    return found


def test_every_variable_the_kit_names_is_one_the_bridge_reads(
    stages: list[list[Instruction]],
    compose: dict[str, Any],
    unit: dict[str, dict[str, list[str]]],
) -> None:
    known = _read_by_the_bridge() | FOREIGN
    named = _named_in_the_kit(stages, compose, unit)
    assert named["ccin-bridge.env"], "the example env file names no variable"
    unknown = {where: sorted(names - known) for where, names in named.items() if names - known}
    assert not unknown, unknown


def test_the_example_env_file_holds_no_secret() -> None:
    example = (DEPLOY / "ccin-bridge.env").read_text(encoding="utf-8")
    named = set(re.findall(r"^#?([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))
    assert not named & _credentials()


# --- `db backup` on the command line ----------------------------------------------------------


async def test_db_backup_says_what_it_made(
    sqlite_db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "ccin.sqlite3"
    args = argparse.Namespace(file=str(target), force=False)
    assert await backup_command.run(args, sqlite_db) == 0
    said = capsys.readouterr()
    assert said.err == ""
    live = Path(str(sqlite_db.url.database)).name
    assert said.out.startswith("backed up /")  # the database file, not its URL
    assert f"{live} to {target} (" in said.out
    assert f"revision {await sqlite_db.current_revision()}, integrity ok)" in said.out

    assert await backup_command.run(args, sqlite_db) == 1  # it exists now
    said = capsys.readouterr()
    assert said.out == ""
    assert said.err.startswith("ccin-bridge: no backup made: ")
    assert "--force" in said.err
    assert await backup_command.run(argparse.Namespace(file=target, force=True), sqlite_db) == 0

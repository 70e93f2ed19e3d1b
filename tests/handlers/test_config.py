"""Config: the real file validates; each kind of mistake names its key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ccin_bridge.handlers.config import ConfigError, Secrets, load_settings

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def base() -> dict[str, object]:
    data = yaml.safe_load((REPO / "config.yaml").read_text())
    assert isinstance(data, dict)
    return data


def test_repo_config_is_valid_and_has_the_three_network_groups() -> None:
    settings = load_settings(REPO / "config.yaml")
    slugs = [g.slug for g in settings.groups]
    assert slugs[:3] == ["officers", "leaders", "champions"]
    assert settings.timezone == "Europe/London"
    assert all(g.rules.text for g in settings.groups)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(timezone="Mars/Olympus"), "timezone: unknown time zone 'Mars/Olympus'"),
        (lambda d: d["groups"][0].update(join_policy="maybe"), "groups.0.join_policy:"),
        (lambda d: d.update(colour="blue"), "colour: unknown setting"),
        (lambda d: d["groups"][1].update(slug="officers"), "slug 'officers' is used twice"),
        (lambda d: d.update(admins=["whatsapp:1"]), "platform must be one of"),
        (lambda d: d.update(admins=["telegram:@ada"]), "admins: 'telegram:@ada': Telegram user"),
        (lambda d: d.update(admins=["telegram:-1001234"]), "admins: 'telegram:-1001234'"),
        (lambda d: d.update(admins=["slack:u012abcdef"]), "lower-case is a handle or a typo"),
        (lambda d: d["groups"][0].update(audience="nobody"), "names audience 'nobody'"),
        (lambda d: d["schedules"].update(digest_day=31), "schedules.digest_day:"),
        (
            lambda d: d.update(telegram_token="123:abc"),
            "telegram_token: secrets belong in environment",
        ),
        (lambda d: d.pop("groups"), "groups: Field required"),
        # A platform's own section is read by its registry entry's model, and named so.
        (lambda d: d.update(slack_http={"port": 0}), "yaml: slack_http.port: Input should be"),
        (lambda d: d.update(slack_http=None), "yaml: slack_http: Input should be"),
        (lambda d: d.update(slack_http={"hots": "x"}), "slack_http.hots: unknown setting"),
        (
            lambda d: d["groups"][0].update(chats={"slack": ["C0OK", "#general"]}),
            "groups.0.chats: slack[1]: Slack channel ids look like C012ABCDEF",
        ),
        (lambda d: d["groups"][0].update(chats={"teams": ["x"]}), "'teams': chats can be on"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, mutate: object, expected: str) -> None:
    data = base()
    mutate(data)  # type: ignore[operator]
    with pytest.raises(ConfigError, match=None) as info:
        load_settings(write(tmp_path, data))
    assert expected in str(info.value)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+, column \d+"):
        load_settings(write(tmp_path, "network_name: x\ngroups: [unclosed\n"))
    with pytest.raises(ConfigError, match="mapping of settings"):
        load_settings(write(tmp_path, "- just\n- a list\n"))


def test_settings_are_overridden_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CCIN_BRIDGE_HTTP__HOST", "0.0.0.0")
    monkeypatch.setenv("CCIN_BRIDGE_HTTP__PORT", "9090")
    monkeypatch.setenv("CCIN_BRIDGE_SLACK_HTTP__HOST", "0.0.0.0")  # a platform's own section
    monkeypatch.setenv("CCIN_BRIDGE_SCHEDULES__DIGEST_DAY", "3")
    monkeypatch.setenv("ccin_bridge_admins", '["telegram:12345"]')
    monkeypatch.setenv("CCIN_BRIDGE_DATA_DIR", "/srv/ccin")
    path = write(tmp_path, base())
    settings = load_settings(path, from_environment=True)
    assert (settings.http.host, settings.http.port) == ("0.0.0.0", 9090)
    assert settings.platform("slack").host == "0.0.0.0"  # type: ignore[union-attr]
    assert settings.platform("slack").port == 3000  # type: ignore[union-attr]
    assert settings.schedules.digest_day == 3
    assert settings.schedules.news_deadline_day == 24  # the file's other keys stay
    assert settings.admins == ["telegram:12345"]
    assert settings.data_dir == Path("/srv/ccin")
    assert load_settings(path).http.port == 8080  # only when asked to


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("CCIN_BRIDGE_HTTP__PORT", "eighty", "CCIN_BRIDGE_HTTP__PORT: Input should be a valid int"),
        ("CCIN_BRIDGE_SCHEDULES__DIGEST_DAY", "31", "CCIN_BRIDGE_SCHEDULES__DIGEST_DAY: Input"),
        ("CCIN_BRIDGE_ADMINS", "telegram:1", "CCIN_BRIDGE_ADMINS: Input should be a valid list"),
        ("CCIN_BRIDGE_DATADIR", "/x", "CCIN_BRIDGE_DATADIR: unknown setting"),
        ("CCIN_BRIDGE_HTTP__HOTS", "x", "CCIN_BRIDGE_HTTP__HOTS: unknown setting"),
    ],
)
def test_a_bad_override_names_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, base()), from_environment=True)
    assert expected in str(info.value)


def test_secrets_can_come_from_files(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("123456:FROM-A-FILE\n")
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "SLACK_BOT_TOKEN").write_text("xoxb-from-systemd")
    secrets = Secrets.from_env(
        {
            "TELEGRAM_BOT_TOKEN_FILE": str(tmp_path / "token"),
            "CREDENTIALS_DIRECTORY": str(credentials),
        }
    )
    assert secrets.get("TELEGRAM_BOT_TOKEN") == "123456:FROM-A-FILE"  # without its newline
    assert secrets.get("SLACK_BOT_TOKEN") == "xoxb-from-systemd"
    assert secrets.get("DATABASE_URL") is None


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TELEGRAM_BOT_TOKEN_FILE": "/nope/token"}, "TELEGRAM_BOT_TOKEN_FILE: /nope/token: file"),
        (
            {"TELEGRAM_BOT_TOKEN": "1:a", "TELEGRAM_BOT_TOKEN_FILE": "/x"},
            "TELEGRAM_BOT_TOKEN and TELEGRAM_BOT_TOKEN_FILE are both set",
        ),
    ],
)
def test_a_bad_secret_file_is_named_and_its_content_never(
    env: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        Secrets.from_env(env)
    assert expected in str(info.value)


def test_a_secret_file_that_is_not_a_secret_is_refused(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * 70_000)
    with pytest.raises(ConfigError, match="too big for a secret"):
        Secrets.from_env({"SLACK_BOT_TOKEN_FILE": str(tmp_path / "big")})
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8") as info:
        Secrets.from_env({"SLACK_BOT_TOKEN_FILE": str(tmp_path / "binary")})
    assert "\\xff" not in str(info.value)


def test_secrets_come_from_the_environment_and_never_print() -> None:
    secrets = Secrets.from_env({"TELEGRAM_BOT_TOKEN": "123:SECRET", "SLACK_BOT_TOKEN": " "})
    assert secrets.get("TELEGRAM_BOT_TOKEN") == "123:SECRET"
    assert secrets.get("SLACK_BOT_TOKEN") is None
    assert "SECRET" not in repr(secrets)


@pytest.mark.slow
def test_cli_bad_config_exits_2_without_traceback(tmp_path: Path) -> None:
    data = base()
    data["groups"][0]["join_policy"] = "maybe"  # type: ignore[index]
    path = write(tmp_path, data)
    result = subprocess.run(
        [sys.executable, "-m", "ccin_bridge", "--config", str(path), "db", "status"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        env={**os.environ, "DATABASE_URL": ""},
    )
    assert result.returncode == 2
    assert "groups.0.join_policy" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_admin_keys_are_kept_as_requests_spell_them(tmp_path: Path) -> None:
    data = base()
    data["admins"] = [" telegram: 0123456 ", "slack:U012ABCDEF", "terminal:ada"]
    settings = load_settings(write(tmp_path, data))
    assert settings.admins == ["telegram:123456", "slack:U012ABCDEF", "terminal:ada"]


@pytest.mark.slow
def test_cli_admin_that_could_never_match_exits_2_naming_admins(tmp_path: Path) -> None:
    data = base()
    data["admins"] = ["telegram:1 2"]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ccin_bridge",
            "--config",
            str(write(tmp_path, data)),
            "db",
            "status",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        env={**os.environ, "DATABASE_URL": ""},
    )
    assert result.returncode == 2
    assert "admins: 'telegram:1 2': Telegram user ids are numbers" in result.stderr
    assert "ids have no spaces" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_an_empty_override_is_unset_like_an_empty_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CCIN_BRIDGE_DATA_DIR", "")  # it used to mean "the current folder"
    data = base()
    data.pop("data_dir")
    assert load_settings(write(tmp_path, data), from_environment=True).data_dir is None

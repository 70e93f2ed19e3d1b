"""The `ccin-bridge` argument parser. It imports nothing heavier than argparse, so `--help` and
a mistyped command answer at once; each command's module is imported only to run it."""

from __future__ import annotations

import argparse
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ccin_bridge.handlers.platforms import RunOption

    Commands = argparse._SubParsersAction[argparse.ArgumentParser]

# Kept here rather than imported, so that building the parser loads no database library;
# tests/bridge/test_cli_parser.py checks that it agrees with its owner.
IMPORT_KINDS = ("case-studies", "projects", "suppliers", "events")  # store/importers.py KINDS


class _Version(argparse.Action):
    """`--version`: the installed distribution's, read only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help=str(kwargs.get("help", "")))

    def __call__(self, parser: argparse.ArgumentParser, *_args: object) -> None:
        print(f"ccin-bridge {installed_version()}")
        parser.exit()


def installed_version() -> str:
    """The installed distribution's version, read from its metadata only when asked for."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ccin-bridge")
    except PackageNotFoundError:  # run from a tree that was never installed
        return "(not installed)"


def _between(low: int, high: int) -> Callable[[str], int]:
    """A whole number in a range, refused with the range rather than quietly clamped."""

    def number(value: str) -> int:
        try:
            parsed = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if not low <= parsed <= high:
            raise argparse.ArgumentTypeError(f"{parsed} is not between {low} and {high:,}")
        return parsed

    return number


def _chat_name(value: str) -> str:
    """`--as`: a person's name, with at least one letter or digit (their account is made
    from it, so two names are two people whatever the script)."""
    name = " ".join(unicodedata.normalize("NFKC", value).split())  # one person however typed
    if not any(ch.isalnum() for ch in name):
        raise argparse.ArgumentTypeError("give a name with a letter or a digit, e.g. --as Ada")
    if len(name) > 64:
        raise argparse.ArgumentTypeError("a name of at most 64 characters")
    return name


def build_parser(run_options: Sequence[RunOption] = ()) -> argparse.ArgumentParser:
    """The whole command line; `run_options` are the platforms' own options of `run` (the
    registry's, loaded by the caller only when `run` is asked for)."""
    parser = argparse.ArgumentParser(
        prog="ccin-bridge",
        description="Chat-bot bridge for the Co-operative Councils' Innovation Network.",
    )
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    parser.add_argument(
        "--config",
        help="path to config.yaml (or set CCIN_BRIDGE_CONFIG; default: ./config.yaml, the "
        "user's or the system's config folder, else the packaged default)",
    )
    parser.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="default INFO for run and chat, WARNING for the other commands",
    )
    parser.add_argument(
        "--log-file",
        type=Path,
        help="log to this file, rotated daily (default: standard error; chat: a file in the "
        "data folder)",
    )
    parser.add_argument(
        "--log-format", choices=["text", "json"], default="text", help="json: one object a line"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _service(commands, run_options)
    _data(commands)
    _admin(commands)
    _pushes(commands)
    _schedule(commands)
    _platform_packages(commands)
    return parser


def _platform_packages(commands: Commands) -> None:
    teams = commands.add_parser(
        "teams-package", help="write the Teams app package (manifest and icons) to upload"
    )
    teams.add_argument("out", type=Path, metavar="OUT.zip")
    teams.add_argument("--website", help="the network's https:// site (default: http.public_url)")
    teams.add_argument("--privacy-url", help="its privacy statement (default: the website)")
    teams.add_argument("--terms-url", help="its terms of use (default: the website)")


def _service(commands: Commands, run_options: Sequence[RunOption]) -> None:
    run = commands.add_parser(
        "run", help="start every platform whose credentials are set, plus the scheduler"
    )
    for option in run_options:
        run.add_argument(option.flag, dest=option.dest, metavar=option.metavar, help=option.help)
    init = commands.add_parser("init", help="write a config.yaml to edit (default: here)")
    init.add_argument("folder", nargs="?", type=Path, default=Path(), metavar="DIR")
    init.add_argument("--force", action="store_true", help="replace a config.yaml already there")
    chat = commands.add_parser("chat", help="talk to the bridge in this terminal")
    chat.add_argument(
        "--as", dest="name", type=_chat_name, default="Guest", help="your name in the chat"
    )
    chat.add_argument(
        "--admin", action="store_true", help="make this person a network admin (kept)"
    )


def _data(commands: Commands) -> None:
    db = commands.add_parser("db", help="database: upgrade, seed, status, backup FILE")
    actions = db.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("upgrade", help="apply database migrations (also done at every start)")
    actions.add_parser("seed", help="(re)load the reference data")
    actions.add_parser("status", help="version, config, data folder, revision and record counts")
    backup = actions.add_parser("backup", help="copy the SQLite database (safe while it runs)")
    backup.add_argument("file", type=Path, metavar="FILE", help="the copy to write")
    backup.add_argument("--force", action="store_true", help="replace FILE if it exists")
    find = commands.add_parser("search", help="search case studies, projects and suppliers")
    find.add_argument("query", nargs="+", help='words, "phrases" and filters such as kind:project')
    find.add_argument(
        "--kind", choices=["case-study", "project", "publication", "supplier"], action="append"
    )
    find.add_argument("--limit", type=_between(1, 100), default=10, help="results to show (1-100)")
    find.add_argument("--json", action="store_true", help="print JSON, best match first")
    imp = commands.add_parser("import", help="import case studies, projects, suppliers or events")
    imp.add_argument("kind", choices=IMPORT_KINDS)
    imp.add_argument(
        "file", help="a .csv, .xlsx or .json file (events: also .ics), or an http(s):// URL of one"
    )
    imp.add_argument(
        "--every",
        metavar="INTERVAL",
        help="events from a feed URL: subscribe and fetch it again this often (e.g. 6h, 1d; "
        "a running bridge does); new, changed, moved and cancelled events are kept in step",
    )


def _admin(commands: Commands) -> None:
    admin = commands.add_parser(
        "admin", help="grant or revoke admin rights; unlink an account from its person"
    )
    admin.add_argument("action", choices=["grant", "revoke", "unlink"])
    admin.add_argument("who", metavar="PLATFORM:USER_ID")
    audit = commands.add_parser("audit", help="show the audit log (admin actions, changes)")
    audit.add_argument(
        "--limit", type=_between(1, 10_000), default=50, help="entries to show (default 50)"
    )
    audit.add_argument("--json", action="store_true", help="print JSON for scripts")


def _pushes(commands: Commands) -> None:
    cast = commands.add_parser(
        "broadcast", help="queue a broadcast to an audience (a running bridge delivers it)"
    )
    cast.add_argument(
        "--audience", required=True, help="an audience slug from config.yaml, or everyone"
    )
    text = cast.add_mutually_exclusive_group(required=True)
    text.add_argument("--text", help="the message")
    text.add_argument("--file", type=Path, help="a UTF-8 file; blank lines separate paragraphs")
    report = commands.add_parser("deliveries", help="delivery report of a push (or recent pushes)")
    report.add_argument("push_id", nargs="?", type=int, help="the push number")


def _schedule(commands: Commands) -> None:
    jobs = commands.add_parser("jobs", help="scheduled jobs and when each fires next")
    jobs.add_argument("--json", action="store_true", help="print JSON")
    feed = commands.add_parser("ics", help="every event as one iCalendar (.ics) feed")
    feed.add_argument("--out", type=Path, help="write to this file (default: standard output)")

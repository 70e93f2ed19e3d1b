"""`ccin-bridge`: the one entry point that wires adapters, handlers, store and scheduler.

Parsing needs argparse alone (cli/parser.py); the modules of the bridge are imported only once
a command is to run, so `--help` and usage errors answer at once."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ccin_bridge.cli import EXIT_CONFIG
from ccin_bridge.cli.parser import build_parser

if TYPE_CHECKING:
    from ccin_bridge.handlers.platforms import RunOption


def _run_options() -> list[RunOption]:
    """The platforms' options of `run`, from the registry: read only when `run` is asked for,
    so `--help` and the other commands answer without loading it."""
    from ccin_bridge.handlers import platforms

    return platforms.run_options()


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_run_options() if "run" in words else ())
    args = parser.parse_args(words)
    if args.command is None:
        parser.print_help()
        return 0
    from ccin_bridge.cli import commands  # the bridge itself: loaded only to run a command
    from ccin_bridge.handlers.config import ConfigError
    from ccin_bridge.handlers.platforms import PlatformUnreachable
    from ccin_bridge.store.seed import SeedError

    try:
        return asyncio.run(commands.dispatch(args))
    except ConfigError as exc:
        print(f"ccin-bridge: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except SeedError as exc:
        print(f"ccin-bridge: reference data error: {exc}", file=sys.stderr)
        return 1
    except PlatformUnreachable as exc:
        print(f"ccin-bridge: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`ccin-bridge jobs | head`): stop quietly, as Unix tools do.
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE

"""`ccin-bridge`: the one entry point that wires adapters, handlers, store and scheduler.

Parsing needs argparse alone (cli/parser.py); the modules of the bridge are imported only once
a command is to run, so `--help` and usage errors answer at once."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence

from ccin_bridge.cli import EXIT_CONFIG
from ccin_bridge.cli.parser import build_parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from ccin_bridge.cli import commands  # the bridge itself: loaded only to run a command
    from ccin_bridge.handlers.config import ConfigError
    from ccin_bridge.store.seed import SeedError

    try:
        return asyncio.run(commands.dispatch(args))
    except ConfigError as exc:
        print(f"ccin-bridge: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except SeedError as exc:
        print(f"ccin-bridge: reference data error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`ccin-bridge jobs | head`): stop quietly, as Unix tools do.
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE

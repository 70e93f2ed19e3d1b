"""Idle benchmark: how many SQL statements a bridge with nothing to do sends to its database.

    .venv/bin/python -m bench.idle                   # 60 s on SQLite, and PostgreSQL if reachable
    .venv/bin/python -m bench.idle --seconds 120 --no-postgres

The real `Background` (bridge/background.py: the delivery lanes, the chat-action worker, the
scheduler with its job store, the leadership check) runs on a freshly migrated and seeded
database with two fake platforms ("telegram" and "slack": an `Outbound` and a `ChatAdmin`
each that would accept everything), as `ccin-bridge run` does with both platforms' credentials.
After `--settle` seconds (start-up: migrations, group sync, recovery, job registration) every
SQL statement any SQLAlchemy engine in the process sends is counted for `--seconds`, with a
`before_cursor_execute` listener on `Engine`, by engine (the bridge's, APScheduler's job
store) and by statement. Target: under 1 statement a second.

Also measured: what one wake-up of the scheduler costs its job store (it sleeps until its next
job is due, so that is its whole idle cost). On PostgreSQL each statement counted here is
four round trips (the pool's pre-ping `;`, `BEGIN READ ONLY`, the statement, `COMMIT`, as the
server's `log_statement = all` shows); no listener sees the other three. PostgreSQL comes
from `CCIN_BENCH_POSTGRES_URL` (default `postgresql://postgres@127.0.0.1:5432/test`), in a
`ccin_bench_*` database of its own, dropped after. A benchmark, not a test: a miss is
reported as MISSED, the exit status is 0. The report is printed and written to
`bench/idle_results.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from bench.scratch import backends, database
from ccin_bridge.app import load, open_app
from ccin_bridge.background import Background
from ccin_bridge.handlers.config import Secrets
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.replies import Reply

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "idle_results.md"
TARGET = 1.0  # statements a second
PLATFORMS = ("telegram", "slack")


class QuietPlatform:
    """An Outbound and ChatAdmin that accepts everything (nothing is queued while idle)."""

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.sent = 0

    async def send(self, *, chat: ChatRef, reply: Reply) -> None:
        self.sent += 1

    async def admit(self, *, chat_id: str, user_id: str, label: str) -> str | None:
        return None

    async def remove(self, *, chat_id: str, user_id: str) -> None:
        return None

    async def members(self, *, chat_id: str) -> set[str] | None:
        return None

    async def is_member(self, *, chat_id: str, user_id: str) -> bool | None:
        return None


class StatementCounter:
    """Every statement sent by any engine in this process, by (engine, statement)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.job_store: Engine | None = None
        event.listen(Engine, "before_cursor_execute", self._count)

    def _count(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        engine = "job store" if conn.engine is self.job_store else "bridge"
        self.counts[(engine, " ".join(statement.split())[:90])] += 1

    def take(self) -> Counter[tuple[str, str]]:
        taken, self.counts = self.counts, Counter()
        return taken

    def close(self) -> None:
        event.remove(Engine, "before_cursor_execute", self._count)


@dataclass(frozen=True)
class Result:
    backend: str
    seconds: float
    counts: Counter[tuple[str, str]]
    wakeup: Counter[tuple[str, str]]  # one wake-up of the scheduler

    @property
    def per_second(self) -> float:
        return sum(self.counts.values()) / self.seconds


async def measure(backend: str, url: str, seconds: float, settle: float) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        shutil.copy(REPO / "config.yaml", config)
        settings, _ = load(config)
        app = await open_app(settings, Secrets.from_env({"DATABASE_URL": url}), config)
        fakes = {p: QuietPlatform(p) for p in PLATFORMS}
        background = Background(app, fakes, fakes)
        counter = StatementCounter()
        try:
            await background.start()
            if background.scheduler is not None:
                store = background.scheduler._lookup_jobstore("default")
                counter.job_store = getattr(store, "engine", None)
            await asyncio.sleep(settle)
            counter.take()
            await asyncio.sleep(seconds)
            counts = counter.take()
            wakeup: Counter[tuple[str, str]] = Counter()
            if background.scheduler is not None:
                background.scheduler.wakeup()  # what it does when its next job falls due
                await asyncio.sleep(1.0)
                wakeup = Counter({k: v for k, v in counter.take().items() if k[0] == "job store"})
        finally:
            await background.stop()
            counter.close()
            await app.close()
    return Result(backend, seconds, counts, wakeup)


def report(results: list[Result]) -> str:
    lines = [
        "| backend | idle for | statements | per second | of them, job store | target (< 1/s) |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        store = sum(n for (engine, _), n in r.counts.items() if engine == "job store")
        verdict = "met" if r.per_second < TARGET else "**MISSED**"
        lines.append(
            f"| {r.backend} | {r.seconds:.0f} s | {sum(r.counts.values())} | "
            f"{r.per_second:.2f} | {store} | {verdict} |"
        )
    for r in results:
        lines += ["", f"{r.backend}, every statement sent while idle:", ""]
        lines += [f"- {n} × {engine}: `{text}`" for (engine, text), n in r.counts.most_common()]
        woke = sum(r.wakeup.values())
        lines += [
            "",
            f"{r.backend}, one scheduler wake-up (when a job falls due): {woke} job-store "
            "statement(s)" + (":" if woke else "."),
        ]
        lines += [f"  - {n} × `{text}`" for (_, text), n in r.wakeup.most_common()]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return "\n".join(lines) + f"\n\nLoad average at the end: {load} ({os.cpu_count()} CPUs).\n"


async def run(args: argparse.Namespace) -> str:
    results = []
    for backend in backends(not args.no_postgres):
        async with database(backend) as url:
            result = await measure(backend, url, args.seconds, args.settle)
        results.append(result)
        print(f"{backend}: {result.per_second:.2f} statements/s", flush=True)
    return report(results)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.idle")
    parser.add_argument("--seconds", type=float, default=60.0, help="idle time counted")
    parser.add_argument("--settle", type=float, default=3.0, help="start-up time not counted")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    text = report_head(args) + asyncio.run(run(args))
    print(text)
    if not args.no_write:
        RESULTS.write_text(text, encoding="utf-8")
        print(f"written to {RESULTS.relative_to(REPO)}")


def report_head(args: argparse.Namespace) -> str:
    return (
        "# Idle benchmark results\n\n"
        f"`python -m bench.idle --seconds {args.seconds:g}` (see the module docstring): the real "
        "`Background` with two fake platforms, nothing queued; every SQL statement of every "
        f"engine counted for {args.seconds:g} s after {args.settle:g} s of start-up.\n\n"
    )


if __name__ == "__main__":
    main()

"""Outbox benchmark: broadcasts through the real Telegram adapter against a rate-limited fake.

    .venv/bin/python -m bench.outbox broadcast [--n 3000] [--lanes 4] [--rate 30]
    .venv/bin/python -m bench.outbox crash [--n 1000] [--crashes 10] [--seed 1]
    .venv/bin/python -m bench.outbox workers [--n 3000] [--processes 2]
    .venv/bin/python -m bench.outbox all        # the three, written to bench/outbox_results.md

The fake Bot API (tests/fakes/telegram_api.py) runs in this process with a token bucket of
`--rate` messages per second over all chats; a send beyond it is answered 429 with
`retry_after: 1`, as Telegram does. Bridge workers are the real `TelegramBot` (PTB with its
AIORateLimiter) drained by `ccin_bridge.scheduler.delivery.DeliveryService`, in this process
(broadcast) or in child processes (crash, workers). Every recipient is a private chat of the
fake, so what the fake stored per chat counts lost (0) and duplicated (>1) messages.

1. broadcast: N recipients, one push; achieved rate = N / (first to last message) and / rate.
2. crash: one worker process is killed with SIGKILL at a random moment, 10 times, and
   restarted at once; a last worker finishes. Duplicates are compared with rows the outbox
   marked `in_doubt` (the delivery log). Rows a killed worker held are taken back once held
   longer than the lease (`--lease`, 5 s here, 2 minutes by default), by a worker starting or
   by a running one's periodic check.
3. workers: two worker processes drain one outbox on PostgreSQL (FOR UPDATE SKIP LOCKED).

Not part of pytest; each run takes a few minutes at most.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import func, select

from ccin_bridge.bots.telegram.adapter import TelegramBot
from ccin_bridge.handlers import reply_codec
from ccin_bridge.handlers.commands import all_commands
from ccin_bridge.handlers.config import Settings, load_settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.replies import ReplyBuilder
from ccin_bridge.scheduler.delivery import DeliveryPolicy, DeliveryService
from ccin_bridge.store import outbox
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Delivery
from ccin_bridge.store.outbox import Target
from tests.fakes.telegram_api import TOKEN, ApiError, FakeTelegramAPI, TgChat

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "outbox_results.md"
PG_ADMIN = os.environ.get("CCIN_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
FIRST_CHAT = 7_000_000_001
SENDS = ("sendMessage", "sendDocument")


class LimitedTelegramAPI(FakeTelegramAPI):
    """The fake Bot API with Telegram's overall limit: a token bucket of `rate` per second."""

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = rate
        self.tokens = rate
        self.stamp = time.monotonic()
        self.refused = 0
        self.sent_at: list[float] = []

    def _inject_fault(self, method: str) -> None:
        super()._inject_fault(method)
        if method not in SENDS or not self.rate:
            return
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            self.refused += 1
            raise ApiError(429, "Too Many Requests: retry after 1", parameters={"retry_after": 1})
        self.tokens -= 1

    def _store(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.sent_at.append(time.monotonic())
        return super()._store(*args, **kwargs)

    async def __aenter__(self) -> LimitedTelegramAPI:
        await self.start()
        return self

    def per_chat(self) -> Counter[int]:
        return Counter(m.chat_id for m in self.sent)


@dataclass
class Outcome:
    recipients: int
    received: int
    lost: int
    duplicated: int
    refused_429: int
    seconds: float
    statuses: dict[str, int]
    in_doubt: int
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.received / self.seconds if self.seconds else 0.0


def settings() -> Settings:
    return load_settings(REPO / "config.yaml")


def chats(n: int) -> list[int]:
    return [FIRST_CHAT + i for i in range(n)]


async def prepare(url: str, api: LimitedTelegramAPI, n: int) -> int:
    """Migrate, start the bridge once (group sync) and queue one push to n private chats."""
    db = Database(url)
    await db.upgrade()
    bridge = Bridge(settings(), db, all_commands())
    await bridge.start()
    for chat_id in chats(n):
        api.add_chat(TgChat(chat_id, "private", first_name="Alex"))
    reply = (
        ReplyBuilder()
        .heading("Benchmark broadcast")
        .para("A fictional message from the Exampleton test network. Please ignore.")
        .build()
    )
    async with db.session() as session:
        push_id = await outbox.create_push(
            session,
            kind="broadcast",
            payload=reply_codec.encode(reply),
            targets=[Target("telegram", str(c)) for c in chats(n)],
            title="benchmark",
        )
    await db.close()
    assert push_id is not None
    return push_id


async def tally(url: str, api: LimitedTelegramAPI, n: int, seconds: float) -> Outcome:
    counts = api.per_chat()
    wanted = chats(n)
    db = Database(url)
    async with db.session() as session:
        statuses = dict(
            (s, int(c))
            for s, c in await session.execute(
                select(Delivery.status, func.count()).group_by(Delivery.status)
            )
        )
        doubtful = {
            int(c)
            for c in await session.scalars(
                select(Delivery.chat_id).where(Delivery.in_doubt.is_(True))
            )
        }
    in_doubt = len(doubtful)
    # Every duplicate must be a row the delivery log flagged as in doubt.
    unreported = [c for c in wanted if counts[c] > 1 and c not in doubtful]
    await db.close()
    return Outcome(
        recipients=n,
        received=sum(counts[c] for c in wanted),
        lost=sum(1 for c in wanted if counts[c] == 0),
        duplicated=sum(counts[c] - 1 for c in wanted if counts[c] > 1),
        refused_429=api.refused,
        seconds=seconds,
        statuses=statuses,
        in_doubt=in_doubt,
        notes=[f"duplicates not flagged in_doubt: {len(unreported)}"],
    )


def span(api: LimitedTelegramAPI) -> float:
    return api.sent_at[-1] - api.sent_at[0] if len(api.sent_at) > 1 else 0.0


# --- one worker: the real adapter and delivery lanes -----------------------------------------


async def run_worker(
    url: str, api_url: str, lanes: int, lease: float, exit_when_done: bool
) -> None:
    db = Database(url)
    bridge = Bridge(settings(), db, all_commands())
    bot = TelegramBot(bridge, token=TOKEN, base_url=api_url, poll_timeout=1)
    await bot.start()
    service = DeliveryService(
        db, {"telegram": bot}, DeliveryPolicy(lanes=lanes, lease=timedelta(seconds=lease))
    )
    await service.start()
    print("ready", flush=True)
    try:
        if exit_when_done:
            await service.drain()
        else:
            await asyncio.Event().wait()  # until killed
    finally:
        await service.stop()
        await bot.stop()
        await db.close()


def worker_command(
    url: str, api: LimitedTelegramAPI, lanes: int, lease: float, done: bool
) -> list[str]:
    args = [sys.executable, "-m", "bench.outbox", "worker", "--db", url, "--api", api.base_url]
    args += ["--lanes", str(lanes), "--lease", str(lease)]
    return args + (["--exit-when-done"] if done else [])


async def spawn(command: list[str]) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        *command,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    async with asyncio.timeout(60):
        await proc.stdout.readline()  # "ready"
    return proc


# --- the three measurements -----------------------------------------------------------------


async def bench_broadcast(n: int, lanes: int, rate: float) -> Outcome:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        async with LimitedTelegramAPI(rate) as api:
            await prepare(url, api, n)
            db = Database(url)
            bridge = Bridge(settings(), db, all_commands())
            bot = TelegramBot(bridge, token=TOKEN, base_url=api.base_url, poll_timeout=1)
            await bot.start()
            service = DeliveryService(db, {"telegram": bot}, DeliveryPolicy(lanes=lanes))
            started = time.monotonic()
            await service.start()
            async with asyncio.timeout(300):
                await service.drain()
            wall = time.monotonic() - started
            await service.stop()
            await bot.stop()
            await db.close()
            outcome = await tally(url, api, n, span(api))
            outcome.notes.append(f"wall time incl. start-up {wall:.1f} s")
            return outcome


async def bench_crash(n: int, crashes: int, lanes: int, lease: float, seed: int) -> Outcome:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        async with LimitedTelegramAPI(30) as api:
            await prepare(url, api, n)
            started = time.monotonic()
            kills: list[str] = []
            for _ in range(crashes):
                proc = await spawn(worker_command(url, api, lanes, lease, done=False))
                await asyncio.sleep(rng.uniform(0.3, 3.0))
                proc.send_signal(signal.SIGKILL)
                await proc.wait()
                db = Database(url)
                async with db.session() as session:
                    held = int(
                        await session.scalar(
                            select(func.count()).where(Delivery.status.in_(["claimed", "sending"]))
                        )
                        or 0
                    )
                    sending = int(
                        await session.scalar(
                            select(func.count()).where(Delivery.status == "sending")
                        )
                        or 0
                    )
                await db.close()
                kills.append(f"{len(api.sent)} sent, {held} held ({sending} mid-send)")
            await asyncio.sleep(lease + 0.5)  # the last worker starts after the lease
            final = await spawn(worker_command(url, api, lanes, lease, done=True))
            async with asyncio.timeout(300):
                await final.wait()
            outcome = await tally(url, api, n, time.monotonic() - started)
            outcome.notes += [f"kill {i + 1}: {k}" for i, k in enumerate(kills)]
            return outcome


async def bench_workers(n: int, processes: int, lanes: int, rate: float) -> Outcome:
    name = f"ccin_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    try:
        async with LimitedTelegramAPI(rate) as api:
            await prepare(url, api, n)
            started = time.monotonic()
            procs = [
                await spawn(worker_command(url, api, lanes, 120, done=True))
                for _ in range(processes)
            ]
            async with asyncio.timeout(300):
                for proc in procs:
                    await proc.wait()
            outcome = await tally(url, api, n, span(api))
            outcome.notes.append(f"wall time incl. start-up {time.monotonic() - started:.1f} s")
            return outcome
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- report ---------------------------------------------------------------------------------


def row(label: str, o: Outcome, limit: float | None) -> str:
    ratio = f"{o.rate / limit:.2f}" if limit else "–"
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(o.statuses.items()))
    return (
        f"| {label} | {o.recipients:,} | {o.received:,} | {o.rate:.1f}/s | {ratio} | {o.lost} | "
        f"{o.duplicated} | {o.in_doubt} | {o.refused_429} | {statuses} |"
    )


HEADER = (
    "| run | recipients | messages received | rate | rate / limit | lost | duplicated | "
    "rows in_doubt | 429 answers | final statuses |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
)


async def run_all(args: argparse.Namespace) -> str:
    lines = [HEADER]
    notes: list[str] = []
    if args.command in ("broadcast", "all"):
        o = await bench_broadcast(args.n or 3000, args.lanes, args.rate)
        lines.append(row(f"(a) broadcast, 1 process × {args.lanes} lanes", o, args.rate))
        notes += [f"(a) {n}" for n in o.notes]
    if args.command in ("crash", "all"):
        o = await bench_crash(args.crash_n, args.crashes, args.lanes, args.lease, args.seed)
        lines.append(row(f"(b) {args.crashes} × kill -9 and restart", o, None))
        notes += [f"(b) {n}" for n in o.notes]
    if args.command in ("workers", "all"):
        o = await bench_workers(args.n or 3000, args.processes, args.lanes, args.rate)
        lines.append(
            row(f"(c) {args.processes} processes × {args.lanes} lanes, PostgreSQL", o, args.rate)
        )
        notes += [f"(c) {n}" for n in o.notes]
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.outbox")
    parser.add_argument("command", choices=["broadcast", "crash", "workers", "all", "worker"])
    parser.add_argument("--n", type=int, default=0, help="recipients (default 3000)")
    parser.add_argument("--crash-n", type=int, default=1000, help="recipients in the crash run")
    parser.add_argument("--crashes", type=int, default=10)
    parser.add_argument("--lanes", type=int, default=4)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rate", type=float, default=30.0, help="the fake's limit, msg/s")
    parser.add_argument("--lease", type=float, default=5.0, help="seconds (crash run)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db")
    parser.add_argument("--api")
    parser.add_argument("--exit-when-done", action="store_true")
    args = parser.parse_args()
    if args.command == "worker":
        asyncio.run(run_worker(args.db, args.api, args.lanes, args.lease, args.exit_when_done))
        return
    report = asyncio.run(run_all(args))
    print(report)
    if args.command == "all":
        RESULTS.write_text(RESULTS_HEAD + report, encoding="utf-8")
        print(f"written to {RESULTS.relative_to(REPO)}")


RESULTS_HEAD = """# Outbox benchmark results

`python -m bench.outbox all` (see the module docstring for the method). The fake Bot API
allows 30 messages per second over all chats and answers 429 `retry_after: 1` beyond that;
rate = messages received / time from the first to the last one.

"""


if __name__ == "__main__":
    main()

"""Inbound benchmark: the real bridge process answering a fake Bot API that pushes updates.

    .venv/bin/python -m bench.inbound group [--flood 60]
    .venv/bin/python -m bench.inbound crash [--n 100]
    .venv/bin/python -m bench.inbound load [--rates 50,100,200] [--seconds 10] [--profile F]
    .venv/bin/python -m bench.inbound all      # the three, written to bench/inbound_results.md

The fake Bot API (tests/fakes/telegram_api.py, with bench.outbox's token bucket of 429s) runs
in this process. The bridge runs in a child process (`python -m bench.inbound serve`): the
same wiring as `ccin-bridge run` (ccin_bridge.app.open_app, the real TelegramBot with PTB and
its AIORateLimiter, the scheduler and delivery lanes of ccin_bridge.background) on a fresh SQLite
file seeded with the network's reference data. Every person is a private chat of the fake, so the
messages it stored per chat tell answered, lost and duplicated updates apart.

1. group: `--flood` commands in one group (Telegram lets a bot send a group 20 messages a
   minute, so most of their answers must wait), then a DM from someone else: the DM's time to
   answer. Then SIGTERM: how long the bridge takes to stop, and how many updates it left
   stored for the next start.
2. crash: `--n` DMs waiting at the fake; the bridge starts, and is killed with SIGKILL the
   moment Telegram considers the batch delivered (its next getUpdates confirms it). A fresh
   process then starts on the same database: answered, lost and duplicated.
3. load: DMs from distinct people pushed at each rate for `--seconds`, a mix of read-only
   commands and one that writes (/subscribe); the fake's and PTB's rate limits are raised so
   that the bridge, not Telegram's limits, is measured. Time from push to answer (p50, p95,
   p99), CPU seconds of the bridge process per update, and requests that failed (a generic
   error reply, or "database is locked" in its log).

`--profile F` writes a py-spy profile (raw, collapsed stacks) of every thread of the bridge
while a load rate is measured. Not part of pytest; `all` takes about three minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.outbox import LimitedTelegramAPI
from ccin_bridge.handlers.errors import GENERIC_ERROR
from tests.fakes.telegram_api import TOKEN, TgChat, TgUser

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "inbound_results.md"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
GROUP = TgChat(-1009000000001, "supergroup", title="Bench group")
MIX = (
    "/search community energy",
    "/events",
    "/suppliers solicitors",
    "/groups",
    "/subscribe announcements",  # writes: a subscription, and its replies with it
    "/help",
)


def person(n: int) -> TgUser:
    return TgUser(800_000_000 + n, f"Person{n}", "Bench")


class TimedAPI(LimitedTelegramAPI):
    """Records when each message to each chat was stored."""

    def __init__(self, rate: float) -> None:
        super().__init__(rate)
        self.first_answer: dict[int, float] = {}
        self.answers: dict[int, list[float]] = {}
        self.texts: list[str] = []

    def _store(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        stored = super()._store(*args, **kwargs)
        message, now = self.sent[-1], time.monotonic()
        self.first_answer.setdefault(message.chat_id, now)
        self.answers.setdefault(message.chat_id, []).append(now)
        self.texts.append(message.text)
        return stored

    async def __aenter__(self) -> TimedAPI:
        await self.start()
        return self


# --- the bridge process ----------------------------------------------------------------------


async def serve(api_url: str, config: Path, fast: bool) -> None:
    """`ccin-bridge run` with the token and base URL of the fake (and raised limits)."""
    from ccin_bridge.app import load, open_app
    from ccin_bridge.background import Background
    from ccin_bridge.bots.telegram.adapter import TelegramBot
    from ccin_bridge.log_setup import configure as configure_logging

    settings, secrets = load(config)
    app = await open_app(settings, secrets, config)
    configure_logging("INFO", to_file=app.data_dir / "ccin-bridge.log")
    limits = (100_000.0, 100_000.0) if fast else (30.0, 20.0)
    bot = TelegramBot(app.bridge, token=TOKEN, base_url=api_url, poll_timeout=1, rate_limits=limits)
    background = Background(app, {"telegram": bot}, {"telegram": bot})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await bot.start()
    await background.start()
    print("ready", flush=True)
    await stop.wait()
    await bot.stop(grace=4.0)
    await background.stop()
    await app.close()
    print("stopped", flush=True)


@dataclass
class Child:
    process: asyncio.subprocess.Process
    data: Path

    def cpu_seconds(self) -> float:
        return sum(self.cpu_split())

    def cpu_split(self) -> tuple[float, float]:
        """User and system (kernel) CPU seconds of the bridge process, all its threads."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS

    def log(self) -> str:
        path = self.data / "data" / "ccin-bridge.log"
        return path.read_text() if path.exists() else ""

    def open_updates(self) -> int:
        with contextlib.closing(sqlite3.connect(self.data / "data" / "ccin-bridge.sqlite3")) as db:
            (count,) = db.execute(
                "SELECT count(*) FROM inbound_updates WHERE status IN ('pending', 'handled')"
            ).fetchone()
        return int(count)


async def spawn(api: TimedAPI, data: Path, *, fast: bool = False) -> Child:
    config = data / "config.yaml"
    if not config.exists():
        config.write_text((REPO / "config.yaml").read_text())
    args = [sys.executable, "-m", "bench.inbound", "serve", "--api", api.base_url]
    args += ["--config", str(config)] + (["--fast"] if fast else [])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    process = await asyncio.create_subprocess_exec(
        *args, cwd=REPO, stdout=asyncio.subprocess.PIPE, env={**env, "PYTHONPATH": str(REPO)}
    )
    assert process.stdout is not None
    async with asyncio.timeout(120):
        line = await process.stdout.readline()
    if line.strip() != b"ready":
        raise RuntimeError(f"the bridge did not start: {line!r}")
    return Child(process, data)


async def stop(child: Child) -> float:
    """SIGTERM; seconds until the process has exited."""
    started = time.monotonic()
    child.process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(300):
        await child.process.wait()
    return time.monotonic() - started


# --- (a) a busy group -------------------------------------------------------------------------


@dataclass
class GroupOutcome:
    flood: int
    dm_seconds: float
    group_answered_by_then: int
    stop_seconds: float
    left_for_next_start: int


async def bench_group(flood: int) -> GroupOutcome:
    with tempfile.TemporaryDirectory() as tmp:
        async with TimedAPI(30) as api:
            members = [person(n) for n in range(flood)]
            api.add_group(GROUP, {m.id: "member" for m in members})
            child = await spawn(api, Path(tmp))
            for member in members:
                await api.push_message(member, "/events@ccin_test_bot", GROUP)
            erin = person(10_000)
            pushed = time.monotonic()
            await api.push_message(erin, "/events")
            await api.wait_for(lambda: erin.id in api.first_answer, within=300)
            dm_seconds = api.first_answer[erin.id] - pushed
            in_group = len(api.sent_to(GROUP.id))
            stop_seconds = await stop(child)
            left = child.open_updates()
    return GroupOutcome(flood, dm_seconds, in_group, stop_seconds, left)


# --- (b) kill -9 after the fetch --------------------------------------------------------------


@dataclass
class CrashOutcome:
    sent: int
    answered: int
    lost: int
    duplicated: int
    handled_before_kill: int


async def bench_crash(n: int) -> CrashOutcome:
    with tempfile.TemporaryDirectory() as tmp:
        async with TimedAPI(30) as api:
            people = [person(i) for i in range(n)]
            # Start once and stop, so the second start is not also the first (seeding).
            await stop(await spawn(api, Path(tmp)))
            last = 0
            for p in people:
                last = await api.push_message(p, "/events")
            child = await spawn(api, Path(tmp))
            await api.wait_confirmed(last, within=60)
            child.process.send_signal(signal.SIGKILL)
            await child.process.wait()
            before = sum(1 for p in people if api.sent_to(p.id))
            again = await spawn(api, Path(tmp))
            with contextlib.suppress(TimeoutError):
                await api.wait_for(lambda: all(api.sent_to(p.id) for p in people), within=120)
            await asyncio.sleep(2)  # anything sent twice would have come by now
            await stop(again)
            counts = [len(api.sent_to(p.id)) for p in people]
    return CrashOutcome(
        sent=n,
        answered=sum(1 for c in counts if c),
        lost=sum(1 for c in counts if c == 0),
        duplicated=sum(c - 1 for c in counts if c > 1),
        handled_before_kill=before,
    )


# --- (c) load -----------------------------------------------------------------------------------


@dataclass
class LoadOutcome:
    rate: int
    updates: int
    answered: int
    p50: float
    p95: float
    p99: float
    cpu_ms_per_update: float
    kernel_ms_per_update: float  # of which in the kernel (system calls, thread wake-ups)
    failed: int
    # The machine's 1-minute load average at the end: on a shared machine a bridge that falls
    # behind handles its updates in larger batches, so its figures are fair only at a low load.
    load: float
    notes: list[str] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def start_profile(child: Child, path: str) -> asyncio.subprocess.Process:
    """py-spy samples every thread of the bridge (the SQLite driver runs in its own)."""
    spy = Path(sys.executable).parent / "py-spy"
    args = ["record", "--pid", str(child.process.pid), "--threads", "--format", "raw"]
    process = await asyncio.create_subprocess_exec(
        spy, *args, "--rate", "200", "-o", path, stdout=asyncio.subprocess.DEVNULL
    )
    await asyncio.sleep(1.0)  # attached
    return process


async def bench_load(rate: int, seconds: float, pool: int, profile: str = "") -> LoadOutcome:
    """`pool` people who have used the bot before send, in turn, one of MIX each."""
    with tempfile.TemporaryDirectory() as tmp:
        async with TimedAPI(0) as api:  # no 429s from the fake
            child = await spawn(api, Path(tmp), fast=True)
            people = [person(i) for i in range(pool)]
            for p in people:  # first contact, and PTB's connection pool warmed
                await api.push_message(p, "/start")
            await api.wait_for(lambda: all(p.id in api.first_answer for p in people), within=120)
            # Each command gets one message; the k-th after the warm-up answers the k-th push.
            seen = {p.id: len(api.answers[p.id]) for p in people}
            total = int(rate * seconds)
            pushed: list[tuple[int, int, float]] = []  # chat, its n-th push, when
            sends: dict[int, int] = dict.fromkeys(seen, 0)
            user_before, kernel_before = child.cpu_split()
            spy = await start_profile(child, profile) if profile else None
            started = time.monotonic()
            for i in range(total):
                due = started + i / rate
                if (wait := due - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                p = people[i % pool]
                pushed.append((p.id, sends[p.id], time.monotonic()))
                sends[p.id] += 1
                await api.push_message(p, MIX[i % len(MIX)])

            def answered(chat: int, k: int) -> bool:
                return len(api.answers[chat]) > seen[chat] + k

            with contextlib.suppress(TimeoutError):
                await api.wait_for(lambda: all(answered(c, k) for c, k, _ in pushed), 300)
            user_after, kernel_after = child.cpu_split()
            user, kernel = user_after - user_before, kernel_after - kernel_before
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                await spy.wait()
            latencies = [api.answers[c][seen[c] + k] - at for c, k, at in pushed if answered(c, k)]
            failed = sum(GENERIC_ERROR in t for t in api.texts)
            await stop(child)
            locked = child.log().count("database is locked")
    return LoadOutcome(
        rate=rate,
        updates=total,
        answered=len(latencies),
        p50=percentile(latencies, 0.50),
        p95=percentile(latencies, 0.95),
        p99=percentile(latencies, 0.99),
        cpu_ms_per_update=1000 * (user + kernel) / total,
        kernel_ms_per_update=1000 * kernel / total,
        failed=failed + locked,
        load=os.getloadavg()[0],
    )


# --- report -------------------------------------------------------------------------------------


def report(group: GroupOutcome | None, crash: CrashOutcome | None, loads: list[LoadOutcome]) -> str:
    lines = [
        "# Inbound benchmark results",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores,"
        f" load average {os.getloadavg()[0]:.2f}; `python -m bench.inbound all`.",
        "",
    ]
    if group is not None:
        lines += [
            "## (a) A busy group, then a DM",
            "",
            "| commands in the group | DM answered after | group answers by then "
            "| SIGTERM to exit | left stored for the next start |",
            "|---:|---:|---:|---:|---:|",
            f"| {group.flood} | {group.dm_seconds:.2f} s | {group.group_answered_by_then} "
            f"| {group.stop_seconds:.1f} s | {group.left_for_next_start} |",
            "",
            "Targets: the DM within 1 s; stopping within 10 s.",
            "",
        ]
    if crash is not None:
        lines += [
            "## (b) kill -9 once Telegram considers the batch delivered, then restart",
            "",
            "| DMs | answered | lost | answered twice | answered before the kill |",
            "|---:|---:|---:|---:|---:|",
            f"| {crash.sent} | {crash.answered} | {crash.lost} | {crash.duplicated} "
            f"| {crash.handled_before_kill} |",
            "",
            "Target: every DM answered, each once.",
            "",
        ]
    if loads:
        lines += [
            "## (c) Load: DMs from distinct people, limits raised",
            "",
            "| rate /s | updates | answered | p50 | p95 | p99 | CPU per update | of which kernel "
            "| failed | load average |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {o.rate} | {o.updates} | {o.answered} | {o.p50 * 1000:.0f} ms "
            f"| {o.p95 * 1000:.0f} ms | {o.p99 * 1000:.0f} ms | {o.cpu_ms_per_update:.1f} ms "
            f"| {o.kernel_ms_per_update:.1f} ms | {o.failed} | {o.load:.1f} |"
            for o in loads
        ]
        lines += ["", "Targets: at most 5 ms CPU per update; no request fails.", ""]
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> None:
    if args.command == "serve":
        await serve(args.api, Path(args.config), args.fast)
        return
    group = crash = None
    loads: list[LoadOutcome] = []
    if args.command in ("group", "all"):
        group = await bench_group(args.flood)
    if args.command in ("crash", "all"):
        crash = await bench_crash(args.n)
    if args.command in ("load", "all"):
        for rate in (int(r) for r in args.rates.split(",")):
            loads.append(await bench_load(rate, args.seconds, args.people, args.profile))
    text = report(group, crash, loads)
    print(text)
    if args.command == "all":
        RESULTS.write_text(text + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inbound")
    parser.add_argument("command", choices=["group", "crash", "load", "all", "serve"])
    parser.add_argument("--flood", type=int, default=60)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--rates", default="50,100,200")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--people", type=int, default=300, help="load: how many send in turn")
    parser.add_argument("--profile", default="", help="load: py-spy's raw profile to this file")
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--fast", action="store_true", help=argparse.SUPPRESS)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()

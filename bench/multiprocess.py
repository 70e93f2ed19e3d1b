"""Two `ccin-bridge run` processes on one PostgreSQL database, and the leader killed mid-run.

    .venv/bin/python -m bench.multiprocess [--recipients 3000] [--quick] [--no-write]
    .venv/bin/python -m bench.multiprocess --kill-offset 0.3   # killed while the jobs run

Issue 13's benchmark. A fresh database `ccin_bench_*` on `CCIN_BENCH_POSTGRES_URL` (default
the tests' server) is created and dropped at the end. The fake Bot API
(tests/fakes/telegram_api.py with bench.outbox's token bucket) runs in this process at
Telegram's real overall limit, 30 messages a second for the bot; the bridges keep their own
limiters (the real `run` has no way to raise them). Then:

1. Two real `ccin-bridge run` processes start at the same moment on the empty database (a copy
   of config.yaml in a temporary folder whose `schedules` make the monthly jobs, the daily
   chat reconciliation and rules reminders fall due at one minute a little ahead, network time;
   the Officer Network bound to a Telegram group of the fake). Both must print
   "ccin-bridge is running".
2. People are added through the store API: `--recipients` subscribed to announcements, 100
   digest subscribers (25 per audience) and 40 approved officers whose invitations are queued
   (chat actions). The broadcast is queued by `ccin-bridge broadcast --audience everyone` in a
   third process, timed so that a third of it is out when the leader is killed.
3. The leader (`ccin-bridge jobs --json`: its `application_name` names the OS pid) is killed
   with SIGKILL 3 s before the jobs fall due; `jobs --json` is polled until the other process
   leads. The jobs then run late, once, on the new leader (misfire grace). `--kill-offset`
   moves the kill (seconds from the due time; > 0 while the leader's scheduler runs them:
   the next leader then runs them again, and their keys keep each push to one).
4. When every delivery and chat action has settled: what each chat received (per kind), the
   job runs (a trigger on APScheduler's job table records each dispatch, and the jobs' own log
   lines and audit rows what each run did), deliveries `in_doubt`, chat actions done twice.

Results go to bench/multiprocess_results.md. Not part of pytest; about four minutes, most of
it the two-minute lease after which the deliveries the killed process had claimed go back.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import yaml

from bench.outbox import PG_ADMIN, LimitedTelegramAPI
from ccin_bridge.background import LEADER_CHECK_SECONDS
from ccin_bridge.handlers.config import Settings, load_settings
from ccin_bridge.handlers.membership import queue_chat_changes
from ccin_bridge.scheduler.delivery import DeliveryPolicy
from ccin_bridge.store import chat_actions, groups, people, subscriptions
from ccin_bridge.store.db import Database
from tests.fakes.telegram_api import TOKEN, SentMessage, TgChat

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "multiprocess_results.md"
CLI = Path(sys.executable).parent / "ccin-bridge"
RATE = 30.0  # Telegram's overall limit per bot, messages a second
GROUP_CHAT = -1009000000042
GROUP_SLUG = "officers"
RECIPIENT_BASE, DIGEST_BASE, INVITEE_BASE = 7_200_000_000, 7_300_000_000, 7_400_000_000
TEXT = "Benchmark broadcast: a fictional message from the Exampleton test network. Please ignore."
KILL_OFFSET = -3.0  # seconds from the jobs' due time to the kill: they fall due while nobody leads
TAKEOVER_TARGET = 60.0
JOBS_GRACE = 90.0  # seconds
SETTLE_WITHIN = 200.0  # the 2-minute lease, its 1-minute check; plus the sends (n / 20 s)
RUNNING = "ccin-bridge is running"
VARIANT = "# Variant: "  # heading of a --kill-offset run in the results
LEASE_MINUTES = DeliveryPolicy().lease.total_seconds() / 60
MEASURED = ("bots", "bridge", "handlers", "scheduler", "store")  # the code under test
STATE_SQL = (
    "SELECT (SELECT count(*) FROM deliveries WHERE status IN ('pending', 'claimed', 'sending')),"
    " (SELECT count(*) FROM chat_actions WHERE status IN ('pending', 'running'))"
)


# --- the plan: config, who gets what ----------------------------------------------------------


def due_minute(now: datetime, lead: float) -> datetime:
    """The first whole minute at least `lead` seconds after `now`."""
    earliest = now + timedelta(seconds=lead)
    floor = earliest.replace(second=0, microsecond=0)
    return floor if floor == earliest else floor + timedelta(minutes=1)


def bench_config(template: str, due: datetime, group_chat: int) -> tuple[str, list[str]]:
    """config.yaml whose monthly and daily group jobs fall due at `due` (network time), with
    the officers' group bound to `group_chat`; and the ids of the jobs that fall due.
    Days config cannot name (digest after the 28th, reminder after the 24th) are left out."""
    data: dict[str, Any] = yaml.safe_load(template)
    at = f"{due:%H:%M}"
    schedules = data.setdefault("schedules", {})
    due_jobs = ["reconcile-chats", "rules-reminders"]
    schedules["reconcile_time"] = at
    if due.day <= 28:
        schedules.update(digest_day=due.day, digest_time=at)
        due_jobs += [f"digest:{a['slug']}" for a in data.get("audiences", [])]
        if due.day <= 24:
            schedules["news_reminder_day"] = due.day
            schedules["news_deadline_day"] = max(due.day, schedules.get("news_deadline_day", 24))
            due_jobs.append("news-reminder")
    for group in data["groups"]:
        if group["slug"] == GROUP_SLUG:
            group["chats"] = {"telegram": [str(group_chat)]}
    data["data_dir"] = "data"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True), sorted(due_jobs)


def leader_pid(payload: dict[str, Any]) -> int | None:
    """The OS pid of the leading process, from `jobs --json` (`ccin-bridge@HOST:PID`)."""
    name = (payload.get("leader") or {}).get("application_name") or ""
    found = re.fullmatch(r"ccin-bridge@.*:(\d+)", name)
    return int(found.group(1)) if found else None


def kind_of(text: str) -> str:
    if TEXT in text:
        return "broadcast"
    if "Send your news for the monthly digest" in text:
        return "news-reminder"
    if "Your invitation to" in text:
        return "invite"
    if " digest for " in text:
        return "digest"
    return "other"


@dataclass(frozen=True)
class Expect:
    """What each kind of chat must receive exactly once, and nothing else."""

    recipients: list[int]
    digest_subscribers: list[int]
    invitees: list[int]

    def wanted(self, chat: int) -> set[str]:
        if chat in self.invitees:
            return {"invite"}
        if chat in self.digest_subscribers:
            return {"digest", "news-reminder"}
        return {"broadcast"}

    def chats(self) -> list[int]:
        return self.recipients + self.digest_subscribers + self.invitees


@dataclass
class Tally:
    missing: Counter[str] = field(default_factory=Counter)  # kind -> chats that lack it
    twice: Counter[str] = field(default_factory=Counter)  # kind -> extra messages
    unexpected: int = 0
    twice_chats: set[int] = field(default_factory=set)
    missing_chats: set[int] = field(default_factory=set)


def tally(sent: Iterable[SentMessage], expect: Expect) -> Tally:
    got: dict[int, Counter[str]] = {}
    for message in sent:
        got.setdefault(message.chat_id, Counter())[kind_of(message.text)] += 1
    out = Tally()
    for chat in expect.chats():
        counts, wanted = got.get(chat, Counter()), expect.wanted(chat)
        for kind in wanted:
            if counts[kind] == 0:
                out.missing[kind] += 1
                out.missing_chats.add(chat)
            elif counts[kind] > 1:
                out.twice[kind] += counts[kind] - 1
                out.twice_chats.add(chat)
        out.unexpected += sum(c for k, c in counts.items() if k not in wanted)
    return out


# --- processes ---------------------------------------------------------------------------------


@dataclass
class BridgeProcess:
    name: str
    process: asyncio.subprocess.Process
    log: Path
    spawned: float
    running_at: float | None = None
    lines: list[str] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            if line.startswith(RUNNING) and self.running_at is None:
                self.running_at = time.monotonic()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def child_env(api_url: str, database_url: str) -> dict[str, str]:
    """The environment of a production process, pointed at the fake and the bench database."""
    dropped = ("SLACK_", "TELEGRAM_", "CCIN_BRIDGE_", "DATABASE_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    return env | {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": api_url,
        "DATABASE_URL": database_url,
        "CCIN_BRIDGE_HTTP__PORT": "0",  # two listeners on one host
    }


async def spawn(name: str, config: Path, folder: Path, env: dict[str, str]) -> BridgeProcess:
    log = folder / f"{name}.log"
    process = await asyncio.create_subprocess_exec(
        CLI, "--config", str(config), "--log-file", str(log), "run",
        cwd=folder, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=(folder / f"{name}.stderr").open("wb"),
    )  # fmt: skip
    child = BridgeProcess(name, process, log, time.monotonic())
    child._reader = asyncio.create_task(child.read())
    return child


async def cli(config: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        CLI, "--config", str(config), *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def current_leader(config: Path, env: dict[str, str]) -> int | None:
    code, out = await cli(config, env, "jobs", "--json")
    return leader_pid(json.loads(out)) if code == 0 else None


# --- the database ------------------------------------------------------------------------------


def create_database() -> tuple[str, str]:
    name = f"ccin_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"


def drop_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Every dispatch of a job by a scheduler moves its stored next run time on from a time already
# past; a (re)registration keeps or sets it without that. One row per dispatch.
RUNS_TRIGGER = """
CREATE TABLE bench_job_runs (job_id text, due double precision,
                             at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION bench_job_ran() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.next_run_time IS NOT NULL
     AND OLD.next_run_time <= extract(epoch FROM clock_timestamp())
     AND (NEW.next_run_time IS NULL OR NEW.next_run_time > OLD.next_run_time) THEN
    INSERT INTO bench_job_runs (job_id, due) VALUES (OLD.id, OLD.next_run_time);
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER bench_job_ran AFTER UPDATE ON apscheduler_jobs
  FOR EACH ROW EXECUTE FUNCTION bench_job_ran();
"""


async def watch_job_runs(url: str, within: float = 60.0) -> None:
    """Install RUNS_TRIGGER once the leader has created APScheduler's table."""
    deadline = time.monotonic() + within
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        while (await (await conn.execute("SELECT to_regclass('apscheduler_jobs')")).fetchone()) in (
            None,
            (None,),
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("no process created the scheduler's job table")
            await asyncio.sleep(0.5)
        await conn.execute(RUNS_TRIGGER)


async def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return list(await (await conn.execute(sql)).fetchall())


async def seed_people(url: str, settings: Settings, expect: Expect) -> list[int]:
    """Recipients and digest subscribers; approved officers (their invitations are queued
    later). Returns the officers' person ids."""
    db = Database(url)
    audiences = [a.slug for a in settings.audiences]
    officers: list[int] = []
    try:
        async with db.session() as session:
            for i, chat in enumerate(expect.chats()):
                person, _ = await people.touch(
                    session, platform="telegram", external_id=str(chat),
                    display_name=f"Bench person {i}", username=None,
                )  # fmt: skip
                if chat in expect.invitees:
                    await groups.set_membership(
                        session, person_id=person.id, slug=GROUP_SLUG, status=groups.ACTIVE
                    )
                    await groups.record_consent(
                        session, person_id=person.id, slug=GROUP_SLUG, platform="telegram"
                    )
                    officers.append(person.id)
                elif chat in expect.digest_subscribers:
                    topic = subscriptions.digest_topic(audiences[i % len(audiences)])
                    await subscriptions.set_wanted(session, person.id, topic, True)
                else:
                    await subscriptions.set_wanted(
                        session, person.id, subscriptions.ANNOUNCEMENTS, True
                    )
    finally:
        await db.close()
    return officers


async def queue_invites(url: str, settings: Settings, officers: Sequence[int]) -> int:
    group = settings.group(GROUP_SLUG)
    assert group is not None
    db = Database(url)
    try:
        async with db.session() as session:
            return sum(
                [
                    await queue_chat_changes(
                        session, group=group, person_id=p, kind=chat_actions.INVITE
                    )
                    for p in officers
                ]
            )
    finally:
        await db.close()


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Collected:
    """What the store, the fake and the logs hold once the run has settled."""

    jobs_due: list[str]
    runs: Counter[str]  # job id -> dispatches
    dispatched_by: dict[str, list[str]]  # job id -> the processes that dispatched it
    run_lines: dict[str, int]  # job id -> outcome lines in the logs
    reconciled_audits: int
    jobs_late_seconds: float | None
    pushed: set[str]  # jobs whose push is in the outbox
    messages: Tally
    invite_links: Counter[int]  # person id -> createChatInviteLink calls that succeeded
    chat_action_statuses: dict[str, int]
    delivery_statuses: dict[str, int]
    in_doubt_chats: set[int]
    refused_429: int


@dataclass
class Outcome:
    recipients: int
    digest_subscribers: int
    invitees: int
    started: dict[str, bool]
    start_seconds: dict[str, float]
    spawn_gap_ms: float
    first_leader: str
    kill_offset: float
    broadcast_out_at_kill: int
    takeover_seconds: float | None  # by `jobs --json`
    takeover_logged_seconds: float | None  # the survivor's "now runs the scheduled jobs"
    settled: bool
    wall_seconds: float
    exit_codes: dict[str, int | None]
    got: Collected
    notes: list[str]


@dataclass
class Stage:
    """One run's database, config, fake and processes."""

    url: str
    config: Path
    folder: Path
    api: LimitedTelegramAPI
    kill_offset: float
    notes: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return child_env(self.api.base_url, self.url)

    async def leader(self) -> int | None:
        return await current_leader(self.config, self.env)


async def wait_running(children: Sequence[BridgeProcess], within: float = 120.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if all(c.running_at or c.process.returncode is not None for c in children):
            return
        await asyncio.sleep(0.1)


async def sleep_until(moment: datetime) -> None:
    await asyncio.sleep(max(0.0, (moment - datetime.now(moment.tzinfo)).total_seconds()))


def log_outcomes(logs: Sequence[str], due_jobs: Sequence[str]) -> dict[str, int]:
    """Per job, the lines its runs wrote (queued, or found already queued)."""
    text = "\n".join(logs)
    counts: dict[str, int] = {}
    for job in due_jobs:
        if job.startswith("digest:"):
            key = re.escape(job) + r":\d{4}-\d{2}"
            pattern = rf"queued digest {key} as push|digest {key} was queued already"
        elif job == "news-reminder":
            pattern = r"queued news reminder as push|news reminder news-reminder:\S+ was queued"
        else:
            continue
        counts[job] = len(re.findall(pattern, text))
    return counts


def people_for(n: int, digest_n: int, invitee_n: int) -> Expect:
    return Expect(
        [RECIPIENT_BASE + i for i in range(n)],
        [DIGEST_BASE + i for i in range(digest_n)],
        [INVITEE_BASE + i for i in range(invitee_n)],
    )


async def bench(n: int, digest_n: int, invitee_n: int, kill_offset: float = KILL_OFFSET) -> Outcome:
    began = time.monotonic()
    expect = people_for(n, digest_n, invitee_n)
    template = (REPO / "config.yaml").read_text(encoding="utf-8")
    zone = ZoneInfo(yaml.safe_load(template).get("timezone", "Europe/London"))
    # Start-up and seeding, then a third of the broadcast before the kill (at ~28/s).
    due = due_minute(datetime.now(zone), 45.0 + n / 500 + n / (3 * 28) - min(0, kill_offset))
    config_text, due_jobs = bench_config(template, due, GROUP_CHAT)
    name, url = create_database()
    try:
        with tempfile.TemporaryDirectory(prefix="ccin-mp-") as tmp:
            config = Path(tmp) / "config.yaml"
            config.write_text(config_text, encoding="utf-8")
            async with LimitedTelegramAPI(RATE) as api:
                for chat in expect.chats():
                    api.add_chat(TgChat(chat, "private", first_name="Bench"))
                api.add_group(TgChat(GROUP_CHAT, "supergroup", title="Bench officers"))
                stage = Stage(url, config, Path(tmp), api, kill_offset)
                children = await start_pair(stage)
                try:
                    return await run_pair(stage, children, expect, due, due_jobs, began)
                finally:
                    for child in children:
                        if child.process.returncode is None:
                            child.process.kill()
                            await child.process.wait()
    finally:
        drop_database(name)


async def start_pair(stage: Stage) -> list[BridgeProcess]:
    """Both processes at the same moment, on the empty database."""
    env = stage.env
    a = await spawn("a", stage.config, stage.folder, env)
    b = await spawn("b", stage.config, stage.folder, env)
    await wait_running([a, b])
    return [a, b]


async def run_pair(
    stage: Stage,
    children: list[BridgeProcess],
    expect: Expect,
    due: datetime,
    due_jobs: list[str],
    began: float,
) -> Outcome:
    a, b = children
    started = {c.name: c.running_at is not None for c in children}
    for child in children:
        if child.running_at is None:
            stderr = (stage.folder / f"{child.name}.stderr").read_text(errors="replace")
            raise RuntimeError(
                f"bridge {child.name} did not start (exit {child.process.returncode}):"
                f" {stderr[-3000:]}{child.log_text()[-3000:]}"
            )
    await watch_job_runs(stage.url)
    by_pid = {c.process.pid: c for c in children}
    first = await stage.leader()
    if first not in by_pid:
        raise RuntimeError(f"the leader {first} is neither bridge process")
    leader = by_pid[first]
    survivor = b if leader is a else a
    settings = load_settings(stage.config)
    officers = await seed_people(stage.url, settings, expect)
    kill_at = due + timedelta(seconds=stage.kill_offset)
    # Queued so that about a third is out at the kill: the CLI takes a second or two, and the
    # bridges find work another process queued within their 5 s poll.
    await sleep_until(kill_at - timedelta(seconds=len(expect.recipients) / (3 * 28) + 5.0))
    code, out = await cli(
        stage.config, stage.env, "broadcast", "--audience", "everyone", "--text", TEXT
    )
    stage.notes.append(f"broadcast CLI: exit {code}: {out.splitlines()[0] if out else ''}")
    queued = await queue_invites(stage.url, settings, officers)
    stage.notes.append(f"chat actions queued: {queued}")
    await sleep_until(kill_at)
    out_at_kill = sum(kind_of(m.text) == "broadcast" for m in stage.api.sent)
    killed, killed_at, takeover = await kill_and_watch(stage, leader, survivor)
    within = SETTLE_WITHIN + len(expect.chats()) / 20
    settled = await wait_settled(stage.url, push_jobs(due_jobs), within)
    last = max(
        (t for t, m in zip(stage.api.sent_at, stage.api.sent, strict=True)
         if kind_of(m.text) == "broadcast"),
        default=killed,
    )  # fmt: skip
    stage.notes.append(f"the last broadcast message came {last - killed:.0f} s after the kill")
    await asyncio.sleep(3.0)  # anything sent twice would have come by now
    survivor.process.send_signal(signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(30):
            await survivor.process.wait()
    wall = time.monotonic() - began
    stage.notes.append(f"process {leader.name} led first and was killed")
    return Outcome(
        recipients=len(expect.recipients),
        digest_subscribers=len(expect.digest_subscribers),
        invitees=len(expect.invitees),
        started=started,
        start_seconds={c.name: (c.running_at or math.nan) - c.spawned for c in children},
        spawn_gap_ms=(b.spawned - a.spawned) * 1000,
        first_leader=leader.name,
        kill_offset=stage.kill_offset,
        broadcast_out_at_kill=out_at_kill,
        takeover_seconds=takeover,
        takeover_logged_seconds=logged_takeover(survivor, killed_at),
        settled=settled,
        wall_seconds=wall,
        exit_codes={c.name: c.process.returncode for c in children},
        got=await collect(
            stage, expect, due, due_jobs, children, (leader.name, survivor.name), killed_at
        ),
        notes=stage.notes,
    )


async def kill_and_watch(
    stage: Stage, leader: BridgeProcess, survivor: BridgeProcess
) -> tuple[float, float, float | None]:
    """SIGKILL the leader; poll `jobs --json` until the survivor leads. (monotonic and wall
    time of the kill, seconds until `jobs --json` named the survivor)."""
    leader.process.send_signal(signal.SIGKILL)
    await leader.process.wait()
    killed, killed_at = time.monotonic(), time.time()
    held = await query(
        stage.url,
        "SELECT status, count(*) FROM deliveries WHERE status IN ('claimed', 'sending')"
        f" AND claimed_by LIKE '%:{leader.process.pid}:%' GROUP BY status",
    )
    stage.notes.append(
        "deliveries the killed process held: "
        + (", ".join(f"{k} {v}" for k, v in sorted(held)) or "none")
    )
    while time.monotonic() - killed < 120:
        asked = time.monotonic()
        if await stage.leader() == survivor.process.pid:
            stage.notes.append(
                f"`jobs --json` saw the new leader in the call started {asked - killed:.1f} s"
                f" after the kill (a call takes {time.monotonic() - asked:.1f} s here)"
            )
            return killed, killed_at, time.monotonic() - killed
        await asyncio.sleep(0.5)
    return killed, killed_at, None


def logged_takeover(survivor: BridgeProcess, killed_at: float) -> float | None:
    """Seconds from the kill to the survivor's log line, by the log's wall-clock stamp."""
    match = re.search(
        r"^(\S+ \S+) INFO \S+: this process now runs the scheduled jobs",
        survivor.log_text(),
        re.MULTILINE,
    )
    if match is None:
        return None
    # asctime is local time, to the millisecond
    stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").astimezone()
    return stamp.timestamp() - killed_at


def push_jobs(due_jobs: Iterable[str]) -> list[str]:
    """The due jobs that must queue a push, under a key that starts with their id."""
    return [j for j in due_jobs if j.startswith("digest:") or j == "news-reminder"]


async def pushed_jobs(url: str) -> set[str]:
    rows = await query(url, "SELECT key FROM pushes WHERE key IS NOT NULL")
    return {str(k).rsplit(":", 1)[0] for (k,) in rows}


async def wait_settled(url: str, keys: Sequence[str], within: float) -> bool:
    """Every delivery and chat action settled, and every job in `keys` has queued its push;
    False if not by `within`, or if the pushes are still missing JOBS_GRACE s after the
    takeover (when the new leader makes missed runs) with nothing else left to send."""
    began = time.monotonic()
    while time.monotonic() - began < within:
        (open_deliveries, open_actions), *_ = await query(url, STATE_SQL)
        if not open_deliveries and not open_actions:
            if set(keys) <= await pushed_jobs(url):
                return True
            if time.monotonic() - began > JOBS_GRACE:
                return False
        await asyncio.sleep(1.0)
    return False


async def collect(
    stage: Stage,
    expect: Expect,
    due: datetime,
    due_jobs: list[str],
    children: list[BridgeProcess],
    leaders: tuple[str, str],  # the killed leader, the survivor
    killed_at: float,
) -> Collected:
    url = stage.url
    runs = Counter(dict.fromkeys(due_jobs, 0))
    by: dict[str, list[str]] = {}
    first_run: float | None = None
    for job_id, due_epoch, at in await query(
        url, "SELECT job_id, due, extract(epoch FROM at) FROM bench_job_runs ORDER BY at"
    ):
        runs[job_id] += 1
        # The job store's connections carry no name: one process leads at a time, so a
        # dispatch before the kill was the killed leader's.
        by.setdefault(job_id, []).append(leaders[0] if float(at) < killed_at else leaders[1])
        if abs(float(due_epoch) - due.timestamp()) < 1:
            first_run = min(first_run or float(at), float(at))
    statuses = await query(url, "SELECT status, count(*) FROM deliveries GROUP BY status")
    doubtful = {
        int(c) for (c,) in await query(url, "SELECT chat_id FROM deliveries WHERE in_doubt")
    }
    actions = await query(url, "SELECT status, count(*) FROM chat_actions GROUP BY status")
    (audits,), *_ = await query(
        url, "SELECT count(*) FROM audit_log WHERE action = 'groups.reconciled'"
    )
    # An invite link is named "<group> #<person id>" (scheduler/chat_actions.py).
    links = Counter(
        int(str(call.params.get("name", "")).rsplit("#", 1)[-1] or 0)
        for call in stage.api.calls_to("createChatInviteLink")
        if call.status == 200
    )
    return Collected(
        jobs_due=due_jobs,
        runs=runs,
        dispatched_by=by,
        run_lines=log_outcomes([c.log_text() for c in children], due_jobs),
        reconciled_audits=int(audits),
        jobs_late_seconds=None if first_run is None else first_run - due.timestamp(),
        pushed=await pushed_jobs(url) & set(due_jobs),
        messages=tally(stage.api.sent, expect),
        invite_links=links,
        chat_action_statuses={str(k): int(v) for k, v in actions},
        delivery_statuses={str(k): int(v) for k, v in statuses},
        in_doubt_chats=doubtful,
        refused_429=stage.api.refused,
    )


# --- report ------------------------------------------------------------------------------------


def kill_moment(offset: float) -> str:
    if offset < 0:
        return f"{-offset:g} s before the jobs fell due"
    return f"{offset:g} s after the jobs fell due (while its scheduler ran them)"


def verdict(ok: bool) -> str:
    return "met" if ok else "**MISSED**"


def when_jobs_ran(o: Outcome) -> str:
    g = o.got
    if g.jobs_late_seconds is None:
        return "The jobs were never dispatched."
    late = g.jobs_late_seconds
    if any(o.first_leader in names for names in g.dispatched_by.values()):
        return (
            f"The killed leader ({o.first_leader}) dispatched the jobs {late:.1f} s after they "
            "fell due, before it was killed."
        )
    if late < 1:
        return (
            f"The jobs ran on time ({late:.1f} s after they fell due): the new leader led by then."
        )
    return (
        f"The jobs ran {late:.1f} s after they fell due, once the new leader had taken over "
        "(a missed run is made once within `misfire_grace_minutes`)."
    )


def code_under_test() -> str:
    """The commit measured, and whether the working tree differed from it there."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return done.stdout.strip()

    changed = git("status", "--porcelain", "--", *MEASURED)
    return f"commit {git('rev-parse', '--short', 'HEAD')}" + (
        f" with uncommitted changes to {len(changed.splitlines())} file(s) of the bridge"
        if changed
        else ""
    )


def summary(o: Outcome) -> list[tuple[str, str, str]]:
    """(measure, result, target met?) rows."""
    g = o.got
    m = g.messages
    twice = sum(m.twice.values())
    missing = sum(m.missing.values())
    unexplained = (m.missing_chats | m.twice_chats) - g.in_doubt_chats
    links_twice = sum(c - 1 for c in g.invite_links.values() if c > 1)
    # Each due job runs: once, or, when the leader died with runs under way, again by the
    # next leader (scheduler/service.py `register`); their effects (pushes, audits) once.
    ran = all(g.runs[j] >= 1 for j in g.jobs_due)
    started = all(o.started.values())
    took = o.takeover_seconds
    return [
        ("both processes started", f"{'yes' if started else 'no'} ("
         + ", ".join(f"{k} in {v:.1f} s" for k, v in o.start_seconds.items())
         + f"; spawned {o.spawn_gap_ms:.0f} ms apart)", verdict(started)),
        ("time to take over (`jobs --json`)",
         "never" if took is None else f"{took:.1f} s", verdict(took is not None
                                                             and took <= TAKEOVER_TARGET)),
        ("  by the survivor's log", "–" if o.takeover_logged_seconds is None
         else f"{o.takeover_logged_seconds:.1f} s", ""),
        ("scheduled jobs due / run (again after a leader died mid-run)", f"{len(g.jobs_due)} / "
         f"{sum(g.runs[j] >= 1 for j in g.jobs_due)}", verdict(ran)),
        ("monthly pushes due / queued", f"{len(push_jobs(g.jobs_due))} / {len(g.pushed)}",
         verdict(set(push_jobs(g.jobs_due)) <= g.pushed)),
        ("chat reconciliations due / recorded (audit)",
         f"{int('reconcile-chats' in g.jobs_due)} / {g.reconciled_audits}",
         verdict(g.reconciled_audits == int("reconcile-chats" in g.jobs_due))),
        ("messages twice", str(twice), verdict(twice == 0)),
        ("messages missing", str(missing), verdict(missing == 0)),
        ("chat actions done twice", str(links_twice), verdict(links_twice == 0)),
        ("chats with a delivery in doubt", str(len(g.in_doubt_chats)), "reported"),
        ("chats missing or twice, not in doubt", str(len(unexplained)), verdict(not unexplained)),
        ("everything settled", "yes" if o.settled else "no", verdict(o.settled)),
        ("total wall time", f"{o.wall_seconds:.0f} s", ""),
    ]  # fmt: skip


def lost_runs(o: Outcome) -> list[str]:
    """Why pushes are missing when the killed leader had dispatched their jobs."""
    g = o.got
    lost = [j for j in push_jobs(g.jobs_due) if j not in g.pushed]
    if "reconcile-chats" in g.jobs_due and not g.reconciled_audits:
        lost.append("reconcile-chats")
    if not lost or not any(o.first_leader in g.dispatched_by.get(j, []) for j in lost):
        return []
    return [
        f"- **Lost runs** ({', '.join(lost)}): the killed leader had dispatched them and died"
        " while they ran. APScheduler stores a job's next run time as it submits the run, before"
        " the job's code runs, so the new leader found these runs made and made none.",
    ]


def report(o: Outcome) -> str:
    g, m = o.got, o.got.messages
    title = "# Multi-process benchmark results"
    if o.kill_offset != KILL_OFFSET:
        title = f"{VARIANT}--kill-offset {o.kill_offset:g}"
    lines = [
        title,
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores; "
        f"`python -m bench.multiprocess --recipients {o.recipients}`, {code_under_test()}."
        " Two `ccin-bridge run` "
        "processes on one fresh PostgreSQL database, the fake Bot API at Telegram's real "
        f"overall limit ({RATE:.0f} messages/s, 429 `retry_after: 1` beyond it), bridges at "
        "their own default limits. "
        f"{o.recipients:,} broadcast recipients, {o.digest_subscribers} digest subscribers, "
        f"{o.invitees} invitations (chat actions). The leader ({o.first_leader}) was killed "
        f"with SIGKILL {kill_moment(o.kill_offset)}, with "
        f"{o.broadcast_out_at_kill:,} of the broadcast out.",
        "",
        "| measure | result | target |",
        "| --- | --- | --- |",
        *(f"| {a} | {b} | {c} |" for a, b, c in summary(o)),
        "",
        "## Scheduled jobs",
        "",
        "| job | dispatches | by | outcome lines in the logs |",
        "| --- | ---: | --- | ---: |",
        *(
            f"| {j} | {g.runs[j]} | {', '.join(g.dispatched_by.get(j, [])) or '–'} "
            f"| {g.run_lines.get(j, '–')} |"
            for j in g.jobs_due
        ),
        "",
        f"`reconcile-chats` audit rows: {g.reconciled_audits}. " + when_jobs_ran(o),
        "",
        "## Messages and chat actions",
        "",
        "| kind | missing | twice |",
        "| --- | ---: | ---: |",
        *(
            f"| {k} | {m.missing[k]} | {m.twice[k]} |"
            for k in ("broadcast", "digest", "news-reminder", "invite")
        ),
        "",
        f"Unexpected messages: {m.unexpected}. Delivery rows: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(g.delivery_statuses.items()))
        + f"; 429 answers {g.refused_429:,}. Chat actions: "
        + ", ".join(f"{k} {v}" for k, v in sorted(g.chat_action_statuses.items()))
        + f"; invite links made {sum(g.invite_links.values())} for {len(g.invite_links)} people."
        f" Exit codes: "
        + ", ".join(f"{k} {v}" for k, v in o.exit_codes.items())
        + " (-9: killed).",
        "",
        *(f"- {note}" for note in o.notes),
        "",
        "## Reading the figures",
        "",
        f"- A standby checks the lead every {LEADER_CHECK_SECONDS:.0f} s"
        " (`LEADER_CHECK_SECONDS`), and the server drops a killed process's connection, with its"
        " advisory lock, at once: taking over takes 0 to"
        f" {LEADER_CHECK_SECONDS:.0f} s, by where the kill falls in the standby's cycle."
        " `jobs --json` is a process of its own (a second or more a call here), so its figure"
        " is an upper bound; the survivor's log line is the moment.",
        f"- Deliveries the killed process held go back after the {LEASE_MINUTES:.0f}-minute lease"
        " (the survivor looks every half lease): hence the broadcast's tail after the kill. Those"
        " it was sending are retried flagged `in_doubt`: each may have arrived twice, and the"
        " delivery report says so. 'Nothing lost' = every chat got its messages, or is in doubt.",
        "- The broadcast goes to announcement subscribers (`--audience everyone`), the digests"
        " and the news reminder to separate digest subscribers, so the run keeps to about four"
        " minutes at Telegram's rate; `--digest-subscribers` makes the jobs as large.",
        *lost_runs(o),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.multiprocess")
    parser.add_argument("--recipients", type=int, default=3000)
    parser.add_argument("--digest-subscribers", type=int, default=100)
    parser.add_argument("--invitees", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="300 recipients, 20 and 10")
    parser.add_argument("--no-write", action="store_true", help="print, do not write results")
    parser.add_argument(
        "--kill-offset",
        type=float,
        default=KILL_OFFSET,
        help="seconds from the jobs' due time to the kill (default -3; > 0: while they run)",
    )
    args = parser.parse_args()
    if args.quick:
        args.recipients, args.digest_subscribers, args.invitees = 300, 20, 10
    outcome = asyncio.run(
        bench(args.recipients, args.digest_subscribers, args.invitees, args.kill_offset)
    )
    text = report(outcome)
    print(text)
    if not args.no_write and not args.quick:
        write_results(text, variant=args.kill_offset != KILL_OFFSET)
        print(f"written to {RESULTS.relative_to(REPO)}")


def write_results(text: str, *, variant: bool) -> None:
    """The default run replaces the main part of the results, a `--kill-offset` run the
    variant part after it; each keeps the other."""
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    main_part, _, variant_part = old.partition(VARIANT)
    if variant:
        text = main_part.rstrip("\n") + "\n\n" + text
    elif variant_part:
        text = text.rstrip("\n") + "\n\n" + VARIANT + variant_part
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

"""Import and start-up benchmark on a large database: what the incremental index is for.

    .venv/bin/python -m bench.import_bench [--size 100000] [--no-postgres] [--big-rows 100000]

For each backend a fresh database (a temp SQLite file; a throwaway `ccin_bench_*` PostgreSQL
database) is seeded with the network's data, loaded with `--size` synthetic case studies
(bench/search.py's corpus) and indexed once. Then, each as a real `ccin-bridge` process:
1. `import case-studies` of a CSV with 10 new case studies (wall time, interpreter included);
2. `chat` with its input closed: start-up (migrate check, search index check, bridge start)
   and exit, as `chat`/`run` do before they are ready;
3. with `--big-rows N`, `import case-studies` of N new rows into that database: wall time and
   the process's peak RSS.
Figures are printed as Markdown; nothing is written. Missed targets say **MISSED**.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.scratch import backends, database
from bench.search import REPO, _log, corpus

TARGET_IMPORT_S = 2.0
TARGET_START_S = 3.0
TARGET_RSS_MB = 300.0
FIELDS = ("title", "url", "member", "region", "year", "categories", "principles", "summary", "body")


async def _build(url: str, size: int, cache: Path) -> float:
    from sqlalchemy import insert

    from ccin_bridge.store import search_index, seed
    from ccin_bridge.store.db import Database
    from ccin_bridge.store.models import CaseStudy

    db = Database(url)
    started = time.perf_counter()
    try:
        await db.upgrade()
        async with db.session() as session:
            await seed.seed(session)
        for rows in corpus(size, cache):
            async with db.session() as session:
                await session.execute(insert(CaseStudy), rows)
        async with db.session() as session:
            await search_index.rebuild(session)
        if not db.is_sqlite:
            async with db.engine.connect() as conn:
                auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await auto.exec_driver_sql("VACUUM ANALYZE")  # as autovacuum would, soon
    finally:
        await db.close()
    return time.perf_counter() - started


def _csv(path: Path, start: int, count: int, cache: Path | None = None) -> None:
    """`count` new case studies (the corpus's text, new urls) as an import file."""
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(FIELDS)
        written = 0
        for rows in corpus(count, cache):
            for row in rows:
                values = {**row, "url": f"https://bench.invalid/imported/{start + written}"}
                values["categories"] = ";".join(row["categories"])
                values["principles"] = ";".join(row["principles"])
                writer.writerow([values[f] for f in FIELDS])
                written += 1


def _cli(url: str, config: Path, *args: str, stdin: str = "") -> tuple[float, float, int]:
    """Run `ccin-bridge ARGS`; wall seconds, the child's peak RSS in MB, exit status."""
    env = {**os.environ, "DATABASE_URL": url, "CCIN_BRIDGE_CONFIG": str(config)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "ccin_bridge", *args], input=stdin, env=env, cwd=REPO,
        capture_output=True, text=True, check=False, timeout=1800,
    )  # fmt: skip
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode not in (0, 1):
        _log(f"ccin-bridge {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
    # ru_maxrss of children is the largest child so far: each step runs in a fresh bench
    # process's sequence, so report it only when it grew (the big import is run last).
    return wall, max(peak, before) / 1024, done.returncode


def _measure(backend: str, url: str, size: int, big_rows: int, work: Path) -> dict[str, Any]:
    config = work / "config.yaml"
    config.write_text((REPO / "config.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    cache = work / f"corpus-{size}.pickle"
    _log(f"{backend} {size:,}: building")
    build_s = asyncio.run(_build(url, size, cache))
    _log(f"{backend} {size:,}: built in {build_s:.0f} s")
    result: dict[str, Any] = {"backend": backend, "size": size, "build_s": build_s}
    ten = work / "ten.csv"
    _csv(ten, 0, 10)
    result["start_s"] = min(_cli(url, config, "chat")[0] for _ in range(3))
    result["import_s"] = _cli(url, config, "import", "case-studies", str(ten))[0]
    result["start_after_s"] = min(_cli(url, config, "chat")[0] for _ in range(3))
    if big_rows:
        big = work / "big.csv"
        _csv(big, 1_000_000, big_rows, work / f"corpus-{big_rows}.pickle")
        wall, rss, status = _cli(url, config, "import", "case-studies", str(big))
        result.update(big_rows=big_rows, big_s=wall, big_rss_mb=rss, big_status=status)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.import_bench")
    parser.add_argument("--size", type=int, default=100_000, help="case studies (%(default)s)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--big-rows", type=int, default=0, help="also import N rows (RSS)")
    args = parser.parse_args(argv)
    print(render(asyncio.run(_run_all(args))))
    return 0


async def _run_all(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    for backend in backends(not args.no_postgres):
        async with database(backend) as url:
            with tempfile.TemporaryDirectory(prefix="ccin_bench_import_") as folder:
                # _measure runs its own event loop (and child processes): keep it off this one
                measured = await asyncio.to_thread(
                    _measure, backend, url, args.size, args.big_rows, Path(folder)
                )
                results.append(measured)
    return results


def render(results: list[dict[str, Any]]) -> str:
    def verdict(ok: bool) -> str:
        return "met" if ok else "**MISSED**"

    load = os.getloadavg()[0]
    out = [
        "## Import and start-up benchmark",
        "",
        f"Load average {load:.2f} at the end; each figure is one `ccin-bridge` process, "
        "Python start-up included (start-up: best of 3).",
        "",
        "| backend | docs | build s | `chat` start s | import 10 new s | `chat` start after s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        out.append(
            f"| {r['backend']} | {r['size']:,} | {r['build_s']:.0f} | {r['start_s']:.2f} | "
            f"{r['import_s']:.2f} | {r['start_after_s']:.2f} |"
        )
    out += ["", "Targets:"]
    for r in results:
        label = f"{r['backend']}, {r['size']:,} docs"
        out.append(
            f"- import of 10 new <= {TARGET_IMPORT_S:.0f} s ({label}): {r['import_s']:.2f} s, "
            f"{verdict(r['import_s'] <= TARGET_IMPORT_S)}"
        )
        start = max(r["start_s"], r["start_after_s"])
        out.append(
            f"- `chat` ready <= {TARGET_START_S:.0f} s ({label}): {start:.2f} s, "
            f"{verdict(start <= TARGET_START_S)}"
        )
        if "big_rows" in r:
            out.append(
                f"- import of {r['big_rows']:,} rows under {TARGET_RSS_MB:.0f} MB peak RSS "
                f"({label}): {r['big_rss_mb']:.0f} MB in {r['big_s']:.0f} s (exit "
                f"{r['big_status']}), {verdict(r['big_rss_mb'] < TARGET_RSS_MB)}"
            )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())

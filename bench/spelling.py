"""Spelling benchmark: the share of random one- and two-edit typos that search corrects.

    .venv/bin/python -m bench.spelling [--typos 2000] [--docs 100000] [--before REV]

Vocabularies: the network's real data (seeded into a scratch SQLite, as the bot indexes it)
and the synthetic corpus of bench/search.py at `--docs` case studies (its words counted as
store.search_index counts them, without a database). For each, `--typos` random typos per
edit count are made of vocabulary words of four letters or more (a deletion, insertion,
substitution or adjacent transposition at a random place; kept only if the typo is exactly
that many edits away and is itself no vocabulary word). Each typo is then:
- corrected: to the word it was made from;
- prefix: left alone as the start of a vocabulary word (search's prefix match finds it);
- wrong: corrected to another word;
- missed: not corrected.
Also: of 2,000 ordinary English words (symspellpy's dictionary) the vocabulary lacks, how many
are "corrected" into something else (they should stay as typed), and the time and memory to
build the speller. `--before REV` runs the same on store/spelling.py as it was at git REV.
The Markdown report is printed and written to bench/spelling_results.md.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import random
import string
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS_FILE = BENCH_DIR / "spelling_results.md"
OUTCOMES = ("corrected", "prefix", "wrong", "missed")


def network_vocabulary() -> dict[str, int]:
    """The vocabulary of the network's real data, as a fresh seeded database holds it."""
    from sqlalchemy import select

    from ccin_bridge.store import seed
    from ccin_bridge.store.db import Database
    from ccin_bridge.store.models import SearchTerm

    async def load(url: str) -> dict[str, int]:
        db = Database(url)
        try:
            await db.upgrade()
            async with db.session() as session:
                await seed.seed(session)
            async with db.read() as session:
                rows = await session.execute(select(SearchTerm.term, SearchTerm.docs))
                return {str(t): int(d) for t, d in rows}
        finally:
            await db.close()

    with tempfile.TemporaryDirectory() as scratch:
        return asyncio.run(load(f"sqlite:///{scratch}/spelling.sqlite3"))


def synthetic_vocabulary(docs: int) -> dict[str, int]:
    """The vocabulary of bench/search.py's synthetic corpus at `docs` case studies."""
    from bench.search import corpus
    from ccin_bridge.store.search_index import _case_study, _words

    counts: Counter[str] = Counter()
    number = 0
    for rows in corpus(docs):
        for row in rows:
            number += 1
            counts.update(_words(_case_study(SimpleNamespace(id=number, **row))))
    return dict(counts)


def english_words() -> list[str]:
    from symspellpy import SymSpell

    del SymSpell  # only to locate the package's dictionary
    spec = importlib.util.find_spec("symspellpy")
    assert spec is not None and spec.origin is not None
    listing = Path(spec.origin).with_name("frequency_dictionary_en_82_765.txt")
    return [line.split(" ", 1)[0] for line in listing.read_text(encoding="utf-8").splitlines()]


def typo(word: str, edits: int, rng: random.Random) -> str:
    for _ in range(edits):
        at = rng.randrange(len(word))
        letter = rng.choice(string.ascii_lowercase)
        kind = rng.choice(("delete", "insert", "substitute", "transpose"))
        if kind == "delete" and len(word) > 1:
            word = word[:at] + word[at + 1 :]
        elif kind == "insert":
            word = word[:at] + letter + word[at:]
        elif kind == "transpose" and at < len(word) - 1:
            word = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
        else:
            word = word[:at] + letter + word[at + 1 :]
    return word


def typos(vocabulary: dict[str, int], edits: int, n: int, seed: int) -> list[tuple[str, str]]:
    from ccin_bridge.store.spelling import distance

    rng = random.Random(seed)
    words = sorted(w for w in vocabulary if len(w) >= 4 and w.isalpha())
    made: list[tuple[str, str]] = []
    while len(made) < n:
        word = rng.choice(words)
        typed = typo(word, edits, rng)
        if typed not in vocabulary and distance(typed, word) == edits:
            made.append((word, typed))
    return made


def old_module(revision: str) -> ModuleType:
    """store/spelling.py as it was at a git revision, loaded as a module of its own."""
    source = subprocess.run(
        ["git", "show", f"{revision}:store/spelling.py"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    module = ModuleType(f"spelling_at_{revision}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{revision}:store/spelling.py", "exec"), module.__dict__)
    return module


def builder(module: ModuleType) -> Callable[[dict[str, int]], Any]:
    """A speller with its corrections ready: `build` where the module has it, else the old
    `Speller`, which built its index in its constructor."""
    made: Callable[[dict[str, int]], Any] = getattr(module, "build", module.Speller)
    return made


@dataclass
class Run:
    label: str
    vocabulary: str
    words: int
    build_s: float
    build_mb: float
    outcomes: dict[int, Counter[str]]
    english_changed: int
    english_tried: int


def measure(
    label: str,
    name: str,
    vocabulary: dict[str, int],
    make: Callable[[dict[str, int]], Any],
    sets: dict[int, list[tuple[str, str]]],
    english: Sequence[str],
) -> Run:
    started = time.perf_counter()
    speller = make(vocabulary)
    build_s = time.perf_counter() - started
    tracemalloc.start()
    kept = make(vocabulary)
    build_mb = tracemalloc.get_traced_memory()[0] / 1e6
    tracemalloc.stop()
    del kept
    outcomes: dict[int, Counter[str]] = {}
    for edits, made in sets.items():
        counted: Counter[str] = Counter()
        for word, typed in made:
            fix = speller.correct(typed)
            if fix == word:
                counted["corrected"] += 1
            elif fix is not None:
                counted["wrong"] += 1
            elif speller.known(typed):
                counted["prefix"] += 1
            else:
                counted["missed"] += 1
        outcomes[edits] = counted
    changed = sum(speller.correct(w) is not None for w in english)
    return Run(label, name, len(vocabulary), build_s, build_mb, outcomes, changed, len(english))


def report(runs: Sequence[Run], n: int) -> str:
    lines = [
        "# Spelling benchmark",
        "",
        f"{n:,} random typos per edit count of vocabulary words (4+ letters); a typo counts as",
        "corrected only when it becomes the word it was made from. `prefix`: left as the start",
        "of a vocabulary word, which prefix search finds. English: ordinary English words the",
        "vocabulary lacks that were changed into another word (should be 0).",
        "",
        "| speller | vocabulary | words | edits | corrected | prefix | wrong | missed "
        "| English changed | build s | build MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        for edits, counted in run.outcomes.items():
            shares = " | ".join(f"{counted[o] / n:.1%}" for o in OUTCOMES)
            lines.append(
                f"| {run.label} | {run.vocabulary} | {run.words:,} | {edits} | {shares} "
                f"| {run.english_changed}/{run.english_tried} | {run.build_s:.2f} "
                f"| {run.build_mb:.0f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--typos", type=int, default=2000, help="typos per edit count")
    parser.add_argument("--docs", type=int, default=100_000, help="synthetic corpus size; 0: none")
    parser.add_argument("--before", default="", help="also measure spelling.py at this git rev")
    args = parser.parse_args(argv)

    from ccin_bridge.store import spelling

    spellers = [("now", builder(spelling))]
    if args.before:
        spellers.insert(0, (f"at {args.before}", builder(old_module(args.before))))
    vocabularies = [("network", network_vocabulary())]
    if args.docs:
        started = time.perf_counter()
        vocabularies.append((f"synthetic {args.docs:,} docs", synthetic_vocabulary(args.docs)))
        print(
            f"synthetic vocabulary counted in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
    english_all = english_words()
    runs = []
    for name, vocabulary in vocabularies:
        sets = {edits: typos(vocabulary, edits, args.typos, seed=edits) for edits in (1, 2)}
        rng = random.Random(3)
        lacking = [w for w in english_all if len(w) >= 4 and w.isalpha() and w not in vocabulary]
        english = rng.sample(lacking, min(2000, len(lacking)))
        for label, make in spellers:
            runs.append(measure(label, name, vocabulary, make, sets, english))
            print(f"measured {label} on {name}", file=sys.stderr)
    text = report(runs, args.typos)
    print(text)
    RESULTS_FILE.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Parse what people type into words, phrases and filters. Never raises on any input.

community energy "social value" principle:co-production year:2023..2025 kind:project
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ccin_bridge.store.text import fold, phrase_words, words

KIND_ALIASES = {
    "case_study": "case_study", "casestudy": "case_study", "case": "case_study",
    "case_studies": "case_study", "casestudies": "case_study",
    "project": "project", "projects": "project", "lab": "project", "prototype": "project",
    "publication": "publication", "publications": "publication", "report": "publication",
    "reports": "publication",
    "supplier": "supplier", "suppliers": "supplier", "dps": "supplier",
    "resource": "resource", "resources": "resource", "training": "resource", "guide": "resource",
    "member": "member", "members": "member", "organisation": "member", "organisations": "member",
    "member_organisation": "member", "member_organisations": "member",
}  # fmt: skip
KIND_NAMES = "case-study, project, publication, resource, supplier or member"
FILTERS = ("member", "region", "principle", "category", "year", "kind")
# `key:` with nothing after it is a filter with an empty value (refused), not a plain word.
_TOKEN = re.compile(r'(\w+):(?:"([^"]*)"?|(\S*))|"([^"]*)"?|(\S+)', re.UNICODE)
_YEARS = re.compile(r"^(\d{4})(?:\s*(?:\.\.|-|–|to)\s*(\d{4}))?$")


@dataclass(frozen=True)
class Query:
    words: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    kinds: tuple[str, ...] = ()
    member: str | None = None
    region: str | None = None
    principle: str | None = None
    category: str | None = None
    years: tuple[int, int] | None = None
    problems: tuple[str, ...] = field(default=())  # filters we could not use, to tell the user
    # Filters typed with no value (`kind:`, `member: Oldham`): the search is refused, since
    # dropping them would quietly match everything the other words match.
    empty: tuple[str, ...] = ()

    @property
    def has_text(self) -> bool:
        return bool(self.words or self.phrases)

    @property
    def has_filters(self) -> bool:
        return bool(
            self.kinds
            or self.member
            or self.region
            or self.principle
            or self.category
            or self.years
        )


def parse(text: str) -> Query:
    plain: list[str] = []
    phrases: list[tuple[str, ...]] = []
    found: dict[str, str] = {}
    problems: list[str] = []
    empty: list[str] = []
    for match in _TOKEN.finditer(text):
        key, quoted_value, value, phrase, bare = match.groups()
        if key is not None and fold(key) in FILTERS:
            given = (quoted_value if quoted_value is not None else value or "").strip()
            if given and not re.fullmatch(r"[,;|\s]+", given):
                found[fold(key)] = given
            elif fold(key) not in empty:
                empty.append(fold(key))
        elif phrase is not None:
            in_order = tuple(phrase_words(phrase))
            if len(in_order) > 1:
                phrases.append(in_order)
            else:
                plain.extend(words(phrase))
        else:
            plain.append(match.group(0) if key is not None else bare)
    kinds: list[str] = []
    for raw in re.split(r"[,;|]", found.pop("kind", "")):
        folded = re.sub(r"[\s-]+", "_", fold(raw).strip())
        if not folded:
            continue
        if folded in KIND_ALIASES:
            kinds.append(KIND_ALIASES[folded])
        else:
            problems.append(f"kind:{raw.strip()} (use {KIND_NAMES})")
    years = None
    if "year" in found:
        year_text = found.pop("year")
        years_match = _YEARS.match(year_text)
        if years_match:
            start = int(years_match.group(1))
            end = int(years_match.group(2) or start)
            years = (min(start, end), max(start, end))
        else:
            problems.append(f"year:{year_text} (use year:2024 or year:2022..2025)")
    return Query(
        words=tuple(words(" ".join(plain))),
        phrases=tuple(phrases),
        kinds=tuple(dict.fromkeys(kinds)),
        member=found.get("member") or None,
        region=found.get("region") or None,
        principle=found.get("principle") or None,
        category=found.get("category") or None,
        years=years,
        problems=tuple(problems),
        empty=tuple(empty),
    )

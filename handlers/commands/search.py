"""/search: case studies, funded projects, publications, the network's resources, DPS
suppliers and member organisations. Its hints only suggest filters and words that find
something in the index as it is."""

from __future__ import annotations

import re

from ccin_bridge.handlers import metrics
from ccin_bridge.handlers.commands.options import paging_buttons, split_page
from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold, italic, link
from ccin_bridge.store import facets
from ccin_bridge.store import search as store_search
from ccin_bridge.store.query import parse
from ccin_bridge.store.records import SearchHit, SearchPage

PAGE_SIZE = 5
KIND_LABEL = {
    "case_study": "Case study",
    "project": "Funded project",
    "publication": "Publication",
    "resource": "Network resource",
    "supplier": "DPS supplier",
    "member": "Member organisation",
}
KIND_FILTER = {
    "case_study": "case-study",
    "project": "project",
    "publication": "publication",
    "resource": "resource",
    "supplier": "supplier",
    "member": "member",
}
# Each finds something in the seeded index (tests/handlers/test_search_hints.py checks).
FIRST_EXAMPLE = "search food"
EXAMPLE = "search toolkit kind:project year:2024..2025"
BROADER = ("housing", "food", "care")
FILTER_EXAMPLES = {
    "kind": "kind:project",
    "member": "member:Oldham",
    "year": "year:2024",
    "category": "category:housing",
    "principle": "principle:co-production",
    "region": "region:london",
}
# Filters that narrow only documents tagged with them: offered only when some document is.
TAGGED = ("category", "principle", "region")


async def _how_to(ctx: Context) -> Reply:
    in_use = await facets.in_use(ctx.session)
    offered = ["kind", "member", "year", *(f for f in TAGGED if getattr(in_use, f))]
    builder = (
        ReplyBuilder()
        .para(
            "What should I look for? For example: ",
            Span(ctx.request.show(FIRST_EXAMPLE), code=True),
        )
        .para("Narrow it with filters: ", Span(ctx.request.show(EXAMPLE), code=True))
        .para(italic("Filters: " + " ".join(f"{f}:" for f in offered)))
    )
    if in_use.kinds:
        builder.para(italic("Kinds: " + ", ".join(KIND_FILTER[k] for k in in_use.kinds)))
    if in_use.category:
        builder.buttons(Button("Categories", "categories"))
    return builder.buttons(Button("The ten principles", "principles")).build()


async def _empty_filters(ctx: Context, empty: tuple[str, ...]) -> Reply:
    """Filters typed without a value: say how to give one, rather than match everything."""
    in_use = await facets.in_use(ctx.session)
    builder = ReplyBuilder()
    for name in empty:
        if name in TAGGED and not getattr(in_use, name):
            builder.para(f"No item has a {name} yet, so {name}: cannot narrow a search.")
        else:
            builder.para(
                f"{name}: needs a value right after the colon, for example ",
                Span(FILTER_EXAMPLES[name], code=True),
                ".",
            )
    return builder.para("Nothing was searched. Try again with the filter filled in.").build()


async def search(ctx: Context) -> Reply:
    query, page = split_page(ctx.args)
    if not query:
        return await _how_to(ctx)
    empty = parse(query).empty
    if empty:
        return await _empty_filters(ctx, empty)
    with metrics.SEARCH_SECONDS.time():
        result = await store_search.search(
            ctx.session, query, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
    builder = ReplyBuilder()
    for problem in result.problems:
        builder.para(italic(f"I could not use {problem}."))
    if not result.hits:
        if result.total and page > 1:
            return builder.para(f"There are no more results for “{query}”.").build()
        return (
            builder.para(f"Nothing found for “{query}”.")
            .para(
                "Try fewer or broader words, e.g. "
                + ", ".join(f"“{w}”" for w in BROADER[:-1])
                + f" or “{BROADER[-1]}”."
            )
            .build()
        )
    pages = -(-result.total // PAGE_SIZE)
    estimated = isinstance(result.total, store_search.Estimate)
    builder.heading(
        f"{result.total} result{'s' if result.total != 1 else ''} for “{query}”"
        # An estimated total ("about 2,600") gives no exact page count to show.
        + (f" (page {page} of {pages})" if pages > 1 and not estimated else "")
    )
    if result.corrections:
        fixed = ", ".join(
            f"“{fix}” (you typed “{typed}”)" for typed, fix in result.corrections.items()
        )
        builder.para(italic(f"Including results for {fixed}."))
    if result.relaxed:
        builder.para(italic("No result has all of your words; these have some of them."))
    builder.bullets([_card(hit, result) for hit in result.hits])
    builder.buttons(
        *(Button(label, action) for label, action in paging_buttons("search", query, page, pages))
    )
    if page == 1 and "kind:" not in query.casefold() and pages > 1:
        kinds = list(dict.fromkeys(hit.kind for hit in result.hits))
        builder.buttons(
            *(
                Button(f"Only {KIND_LABEL[k].lower()}s", f"search {query} kind:{KIND_FILTER[k]}")
                for k in kinds[:3]
            )
        )
    return builder.build()


def _card(hit: SearchHit, page: SearchPage) -> tuple[Span, ...]:
    title = link(hit.title, hit.url) if hit.url else bold(hit.title)
    facts = [KIND_LABEL.get(hit.kind, hit.kind)]
    if hit.member and hit.member != hit.title:  # a member organisation is its own member
        facts.append(hit.member)
    if hit.year:
        facts.append(hit.year)
    spans: list[Span] = [title, italic(" — " + ", ".join(facts))]
    if hit.summary:
        spans.append(Span(": "))
        spans.extend(highlight(snippet(hit.summary, page.terms), page.terms))
    return tuple(spans)


def snippet(summary: str, terms: tuple[str, ...], limit: int = 200) -> str:
    """About `limit` characters of the summary, starting near the first matched word."""
    summary = " ".join(summary.split())
    if len(summary) <= limit:
        return summary
    start = 0
    match = _pattern(terms).search(summary) if terms else None
    if match and match.start() > limit // 2:
        start = summary.rfind(" ", 0, match.start() - limit // 4) + 1
    cut = summary[start : start + limit]
    if start + limit < len(summary):
        cut = cut.rsplit(" ", 1)[0] + "…"
    return ("…" if start else "") + cut


def highlight(textual: str, terms: tuple[str, ...]) -> list[Span]:
    """Split text into spans with the words that start with a searched term in bold."""
    if not terms:
        return [Span(textual)]
    spans: list[Span] = []
    last = 0
    for match in _pattern(terms).finditer(textual):
        if match.start() > last:
            spans.append(Span(textual[last : match.start()]))
        spans.append(bold(match.group(0)))
        last = match.end()
    if last < len(textual):
        spans.append(Span(textual[last:]))
    return spans


def _pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    stems = sorted({t[:5] if len(t) > 5 else t for t in terms if t}, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(map(re.escape, stems)) + r")\w*", re.IGNORECASE)


COMMANDS = [
    Command(
        "search",
        "Search funded projects, publications, resources, DPS suppliers and members",
        search,
        usage="search WORDS [kind: member: year: category:]",
        aliases=("find",),
        read_only=True,
    ),
]

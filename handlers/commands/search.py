"""/search: case studies and funded projects."""

from __future__ import annotations

from handlers.commands.options import paging_buttons, split_page
from handlers.core import Command, Context
from handlers.replies import Button, Reply, ReplyBuilder, Span, bold, italic, link
from store import search as store_search
from store.records import SearchHit

PAGE_SIZE = 5
KIND_LABEL = {"case_study": "Case study", "project": "Funded project"}


async def search(ctx: Context) -> Reply:
    query, page = split_page(ctx.args)
    if not query:
        return (
            ReplyBuilder()
            .para(
                "What should I look for? For example: ", Span("/search community energy", code=True)
            )
            .build()
        )
    result = await store_search.search(
        ctx.session, query, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    if not result.hits:
        if result.total and page > 1:
            return ReplyBuilder().para(f"There are no more results for “{query}”.").build()
        return (
            ReplyBuilder()
            .para(f"Nothing found for “{query}”.")
            .para("Try fewer or broader words, e.g. “housing”, “energy” or “food”.")
            .build()
        )
    pages = -(-result.total // PAGE_SIZE)
    builder = ReplyBuilder().heading(
        f"{result.total} result{'s' if result.total != 1 else ''} for “{query}”"
        + (f" (page {page} of {pages})" if pages > 1 else "")
    )
    builder.bullets([_card(hit) for hit in result.hits])
    builder.buttons(
        *(Button(label, action) for label, action in paging_buttons("search", query, page, pages))
    )
    return builder.build()


def _card(hit: SearchHit) -> tuple[Span, ...]:
    title = link(hit.title, hit.url) if hit.url else bold(hit.title)
    facts = [KIND_LABEL.get(hit.kind, hit.kind)]
    if hit.member:
        facts.append(hit.member)
    if hit.year:
        facts.append(hit.year)
    spans: list[Span] = [title, italic(" — " + ", ".join(facts))]
    if hit.summary:
        spans.append(Span(": " + _snippet(hit.summary)))
    return tuple(spans)


def _snippet(summary: str, limit: int = 220) -> str:
    summary = " ".join(summary.split())
    if len(summary) <= limit:
        return summary
    return summary[:limit].rsplit(" ", 1)[0] + "…"


COMMANDS = [
    Command(
        "search",
        "Search case studies and funded projects",
        search,
        usage="search WORDS",
        aliases=("find",),
    ),
]

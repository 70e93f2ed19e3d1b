"""/principles: the network's ten principles and the case-study categories, with a search
button for each one that some item carries (the seeds tag few; hints never lead nowhere)."""

from __future__ import annotations

from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold, italic
from ccin_bridge.store import facets

MAX_BUTTONS = 8


def _items(n: int) -> str:
    return f"{n} item" if n == 1 else f"{n} items"


def _search(facet: str, name: str) -> str:
    return f'search {facet}:"{name}"'


async def principles(ctx: Context) -> list[Reply]:
    found = await facets.principles(ctx.session)
    first = ReplyBuilder().heading(f"The network's {len(found)} principles")
    if not found:
        first.para("The principles are not loaded.")
    first.bullets(
        [
            (
                bold(f"{p.number}. {p.name}"),
                Span(f" — {p.description}" if p.description else ""),
                italic(f" ({_items(p.documents)})" if p.documents else ""),
            )
            for p in found
        ]
    )
    for p in [p for p in found if p.documents][:MAX_BUTTONS]:
        first.buttons(Button(f"Search: {p.name}", _search("principle", p.name)))
    groups = await facets.categories(ctx.session)
    second = ReplyBuilder().heading("Categories")
    if groups:
        second.para(
            "The categories the network's website files its case studies under, with how "
            "many items here carry each."
        )
        second.bullets(
            [
                (bold(c.name), italic(f" — {_items(c.documents)}" if c.documents else ""))
                for c in groups
            ]
        )
    else:
        second.para("The categories are not loaded.")
    for c in [c for c in groups if c.documents][:MAX_BUTTONS]:
        second.buttons(Button(c.name, _search("category", c.name)))
    return [first.build(), second.build()]


COMMANDS = [
    Command(
        "principles",
        "The network's ten principles and the categories, to search by",
        principles,
        aliases=("categories",),
        read_only=True,
    )
]

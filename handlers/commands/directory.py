"""/suppliers: the Dynamic Purchasing System and its suppliers."""

from __future__ import annotations

from ccin_bridge.handlers.commands.options import paging_buttons, split_page
from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.dps import dps_summary, in_order, list_date
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold, italic, link
from ccin_bridge.store import reference, supplier_changes
from ccin_bridge.store import search as store_search
from ccin_bridge.store.records import SupplierRecord
from ccin_bridge.store.text import words

PAGE_SIZE = 10


async def suppliers(ctx: Context) -> Reply:
    query, page = split_page(ctx.args)
    dps = await reference.dps(ctx.session)
    found = in_order(await reference.suppliers(ctx.session, query))
    fixed: dict[str, str] = {}
    if query and not found:  # typos, corrected as /search corrects them
        fixed = await store_search.corrections(ctx.session, query)
        corrected = " ".join(fixed.get(w, w) for w in words(query))
        found = in_order(await reference.suppliers(ctx.session, corrected)) if fixed else []
        if found:
            query = corrected  # the heading and the paging buttons show what was found
    today = ctx.now.astimezone(ctx.settings.zone).date().isoformat()
    builder = ReplyBuilder()
    if dps is not None:
        builder.para(italic(dps_summary(dps, today)))
    if not found:
        builder.para(
            f"No DPS supplier matches “{query}”." if query else "No DPS suppliers are loaded."
        )
        return builder.buttons(Button("All suppliers", "suppliers")).build()
    pages = -(-len(found) // PAGE_SIZE)
    page = min(page, pages)
    shown = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    title = f"DPS suppliers matching “{query}”" if query else "DPS suppliers"
    as_of, changed = list_date(dps, await supplier_changes.imported_count(ctx.session))
    builder.heading(
        f"{title} ({len(found)}{as_of})" + (f", page {page} of {pages}" if pages > 1 else "")
    )
    if changed:
        builder.para(italic(changed))
    if fixed and found:
        shown_fixes = ", ".join(f"“{fix}” (you typed “{w}”)" for w, fix in fixed.items())
        builder.para(italic(f"Showing results for {shown_fixes}."))
    builder.bullets([_card(s) for s in shown])
    builder.buttons(
        *(
            Button(label, action)
            for label, action in paging_buttons("suppliers", query, page, pages)
        )
    )
    return builder.build()


def _card(supplier: SupplierRecord) -> tuple[Span, ...]:
    name = link(supplier.name, supplier.website) if supplier.website else bold(supplier.name)
    spans: list[Span] = [name]
    if supplier.services:
        spans.append(Span(" — " + supplier.services))
    if supplier.lots:
        spans.append(italic(" (" + "; ".join(supplier.lots) + ")"))
    return tuple(spans)


COMMANDS = [
    Command(
        "suppliers",
        "Find Dynamic Purchasing System suppliers",
        suppliers,
        usage="suppliers [WORDS]",
        aliases=("dps",),
        read_only=True,
    ),
]

"""One line about the Dynamic Purchasing System, for /suppliers and the monthly digest; the
order suppliers are listed in, and what the list's date says."""

from __future__ import annotations

from collections.abc import Iterable

from ccin_bridge.handlers.dates import short_date
from ccin_bridge.handlers.plural import plural
from ccin_bridge.store.records import DpsRecord, SupplierRecord
from ccin_bridge.store.text import fold

MEMBER_TYPES = {
    "full": "Full",
    "associate": "Associate",
    "affiliate": "Affiliate",
    "supporter": "Supporter",
}


def dps_summary(dps: DpsRecord, today_iso: str) -> str:
    period = f"{short_date(dps.starts_on)} to {short_date(dps.ends_on)}"
    who = " and ".join(MEMBER_TYPES.get(t, t) for t in dps.eligible_member_types)
    if today_iso > dps.ends_on.isoformat():
        return f"The {dps.name} ran from {period} and has now ended."
    return f"The {dps.name} runs from {period}. {who} members may use it."


def in_order(suppliers: Iterable[SupplierRecord]) -> list[SupplierRecord]:
    """Alphabetical as people read it: "bwb" with "Bates", "Éire" with "Eden"."""
    return sorted(suppliers, key=lambda s: (fold(s.name), s.name.casefold(), s.name))


def list_date(dps: DpsRecord | None, imported: int) -> tuple[str, str | None]:
    """What the heading's count carries (", as of 31 Jul 2025"), and a note when imports have
    changed the list since that date, which then no longer describes it."""
    if dps is None or dps.as_of is None:
        return "", None
    as_of = short_date(dps.as_of)
    if not imported:
        return f", as of {as_of}", None
    return "", (
        f"The list as of {as_of}, with {plural(imported, 'supplier')} added or changed "
        "by an import since."
    )

"""One line about the Dynamic Purchasing System, for /suppliers and the monthly digest."""

from __future__ import annotations

from ccin_bridge.handlers.dates import short_date
from ccin_bridge.store.records import DpsRecord

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

"""`ccin-bridge audit [--limit N] [--json]`: the audit log of admin actions, newest first."""

from __future__ import annotations

import argparse
import json

from ccin_bridge.app import App
from ccin_bridge.store import audit, people


async def run(args: argparse.Namespace, app: App) -> int:
    limit = int(args.limit)  # 1 to 10,000: the parser refuses others
    async with app.db.session() as session:
        entries = await audit.recent(session, limit)
        actors = {e.actor_id for e in entries if e.actor_id is not None}
        names = await people.display_names(session, actors)
    rows = [
        {
            "id": e.id,
            "at": e.at.isoformat(timespec="seconds"),
            "actor_id": e.actor_id,
            "actor": names.get(e.actor_id) if e.actor_id is not None else None,
            "action": e.action,
            "detail": e.detail,
        }
        for e in entries
    ]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("the audit log is empty")
        return 0
    for e in entries:
        who = (names.get(e.actor_id) or f"#{e.actor_id}") if e.actor_id is not None else "system"
        detail = ", ".join(f"{k}={v}" for k, v in sorted(e.detail.items()))
        print(f"{e.at:%Y-%m-%d %H:%M}  {who:<20}  {e.action:<24}  {detail}".rstrip())
    return 0

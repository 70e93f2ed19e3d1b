"""/mydata: what the bridge holds about you (UK GDPR right of access)."""

from __future__ import annotations

import json

from handlers.core import Command, Context
from handlers.replies import Attachment, Reply, ReplyBuilder, Span, bold
from store import people


async def mydata(ctx: Context) -> Reply:
    data = await people.export_person(ctx.session, ctx.person.id)
    person = data["person"]
    builder = ReplyBuilder().heading("What we hold about you")
    builder.bullets(
        [
            (bold("Name: "), Span(str(person["display_name"] or "(none)"))),
            (bold("Organisation: "), Span(str(person["organisation"] or "(not set)"))),
            (bold("Role: "), Span(str(person["role"] or "(not set)"))),
            (
                bold("Accounts: "),
                Span(
                    ", ".join(
                        f"{i['platform']} {i['username'] or i['user_id']}"
                        for i in data["identities"]
                    )
                ),
            ),
            (
                bold("Groups: "),
                Span(
                    ", ".join(f"{m['group']} ({m['status']})" for m in data["memberships"])
                    or "none"
                ),
            ),
            (
                bold("Rules accepted: "),
                Span(
                    ", ".join(f"{c['group']} v{c['rules_version']}" for c in data["consents"])
                    or "none"
                ),
            ),
            (
                bold("Subscriptions: "),
                Span(", ".join(data["subscriptions"]) or "none"),
            ),
        ]
    )
    builder.para("The attached file has all of it, including when each thing happened.")
    payload = json.dumps(data, indent=2, ensure_ascii=False).encode()
    return builder.build(
        attachment=Attachment("my-ccin-data.json", payload, "application/json"), private=True
    )


COMMANDS = [Command("mydata", "See and download everything held about you", mydata)]

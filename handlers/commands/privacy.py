"""/mydata and /forgetme: UK GDPR rights of access and erasure."""

from __future__ import annotations

import json

from ccin_bridge.handlers import topics
from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.membership import forget
from ccin_bridge.handlers.replies import Attachment, Button, Reply, ReplyBuilder, Span, bold
from ccin_bridge.store import audit, people


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
                Span(
                    ", ".join(topics.name(ctx.settings, t) for t in data["subscriptions"]) or "none"
                ),
            ),
            (bold("News you sent: "), Span(_news_count(len(data["news"])))),
        ]
    )
    builder.para("The attached file has all of it, including when each thing happened.")
    payload = json.dumps(data, indent=2, ensure_ascii=False).encode()
    return builder.build(
        attachment=Attachment("my-ccin-data.json", payload, "application/json"), private=True
    )


def _news_count(count: int) -> str:
    if not count:
        return "none"
    return f"{count} {'item' if count == 1 else 'items'}, with their text in the file"


COMMANDS = [Command("mydata", "See and download everything held about you", mydata, read_only=True)]


CONFIRM = "--confirm"


async def forgetme(ctx: Context) -> Reply:
    """Erase the person (UK GDPR right to erasure), after an explicit confirmation."""
    if ctx.args.strip() != CONFIRM:
        return (
            ReplyBuilder()
            .heading("Forget me")
            .para(
                "This erases everything the bridge holds about you: your name, your accounts "
                "on every platform, your groups, subscriptions and accepted rules. You will be "
                "removed from the groups' chats. Only anonymous counts are kept."
            )
            .para(
                f"It cannot be undone. You can first download your data with "
                f"{ctx.request.show('mydata')}."
            )
            .buttons(Button("Yes, forget me", f"forgetme {CONFIRM}"), Button("Cancel", "cancel"))
            .build(private=True)
        )
    removals = await forget(ctx.session, ctx.settings, ctx.person.id, ctx.now)
    await audit.record(ctx.session, actor_id=None, action="privacy.forget", removals=removals)
    return (
        ReplyBuilder()
        .para("Done: you have been forgotten. Thank you for taking part in the network.")
        .para(
            "You are being removed from the groups' chats."
            if removals
            else "Nothing about you is kept."
        )
        .build(private=True)
    )


COMMANDS = [*COMMANDS, Command("forgetme", "Erase everything held about you", forgetme)]

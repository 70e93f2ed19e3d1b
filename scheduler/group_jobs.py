"""Scheduled group jobs: reconciliation with the real chats, retention erasure, rules reminders.

Module-level coroutines taking no live objects, so any job store can keep them; they find the
bridge and the platforms' ChatAdmins through `scheduler.runtime.current()`.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from ccin_bridge.handlers import rules_acceptance
from ccin_bridge.handlers.membership import bound_chats, forget, notify_admins
from ccin_bridge.handlers.replies import ReplyBuilder, Span
from ccin_bridge.scheduler import runtime
from ccin_bridge.store import audit, chat_actions, erasure, people
from ccin_bridge.store import groups as store_groups

log = logging.getLogger(__name__)


async def reconcile_chats() -> int:
    """Compare each bound chat with the store; report strangers and missing members to admins.
    Returns the number of discrepancies found."""
    rt = runtime.current()
    bridge = rt.bridge
    lines: list[str] = []
    async with bridge.db.session() as session:
        for group in bridge.settings.groups:
            approved = await store_groups.active_member_ids(session, group.slug)
            for chat in bound_chats(group):
                admin = rt.chat_admins.get(chat.platform)
                if admin is None:
                    continue
                chat_id = await chat_actions.resolve_chat(session, chat.platform, chat.chat_id)
                expected = {
                    i.external_id: i.person_id
                    for i in await people.identities_on(session, chat.platform, approved)
                }
                try:
                    present = await admin.members(chat_id=chat_id)
                    if present is None:  # the platform will not list members: ask one by one
                        missing = [
                            u
                            for u in expected
                            if await admin.is_member(chat_id=chat_id, user_id=u) is False
                        ]
                        strangers: set[str] = set()
                    else:
                        missing = [u for u in expected if u not in present]
                        strangers = present - set(expected)
                except Exception as exc:  # one unreachable chat must not hide the others
                    log.warning("could not check %s chat %s: %r", chat.platform, chat_id, exc)
                    lines.append(
                        f"{group.name} ({chat.platform}): could not check the chat "
                        f"({exc.__class__.__name__}); is the bot still in it as an admin?"
                    )
                    continue
                for user_id in sorted(strangers):
                    person = await people.find_person(session, chat.platform, user_id)
                    who = (person.display_name if person else "") or f"{chat.platform} {user_id}"
                    lines.append(
                        f"{group.name} ({chat.platform}): {who} is in the chat "
                        "but was never approved."
                    )
                for user_id in missing:
                    lines.append(
                        f"{group.name} ({chat.platform}): approved member #{expected[user_id]} "
                        "is missing from the chat."
                    )
        if lines:
            builder = ReplyBuilder().heading("Group chats and the member list disagree")
            builder.bullets([(Span(line),) for line in lines[:50]])
            if len(lines) > 50:
                builder.para(f"... and {len(lines) - 50} more.")
            await notify_admins(
                session,
                bridge.settings,
                builder.build(private=True),
                title="Reconciliation report",
                key=f"reconcile:{bridge.clock():%Y-%m-%d}",
            )
        await audit.record(session, actor_id=None, action="groups.reconciled", issues=len(lines))
    return len(lines)


async def erase_inactive() -> int:
    """Erase people not seen for `retention_days` who are in no group; complete erasures
    whose chat removals are done. Returns how many were erased."""
    bridge = runtime.current().bridge
    days = bridge.settings.retention_days
    now = bridge.clock()
    async with bridge.db.read() as session:
        quiet = await people.inactive_since(session, now - timedelta(days=days)) if days else []
        waiting = await erasure.erasures_waiting(session)
    admins = set(bridge.settings.admins)
    erased = 0
    # One person per unit of work: on SQLite each holds the one write lock, which incoming
    # updates need too, so a long batch must not hold it all at once.
    for person_id in quiet:
        async with bridge.db.session() as session:
            if not await people.inactive_since(session, now - timedelta(days=days), person_id):
                continue  # they came back meanwhile
            keys = {
                f"{i.platform}:{i.external_id}"
                for i in await people.identities_of(session, person_id)
            }
            if keys & admins:  # admins named in config are kept however quiet
                continue
            await forget(session, bridge.settings, person_id, now)
            erased += 1
    for person_id in waiting:
        async with bridge.db.session() as session:
            await erasure.finish_erasure(session, person_id)
    if erased:
        async with bridge.db.session() as session:
            await audit.record(
                session, actor_id=None, action="privacy.retention", erased=erased, days=days
            )
    log.info("retention: erased %d inactive people", erased)
    return erased


async def remind_rules() -> int:
    """Ask members to re-accept changed rules; remind once a week later. Returns DMs queued."""
    bridge = runtime.current().bridge
    async with bridge.db.session() as session:
        return await rules_acceptance.ask(
            session, await bridge.live_settings(session), bridge.clock()
        )

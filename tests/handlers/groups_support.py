"""Shared set-up for the group tests: a bridge whose groups are bound to real chat ids."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ccin_bridge.handlers.commands import all_commands
from ccin_bridge.handlers.config import Chats, Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.identity import ChatRef, UserRef
from ccin_bridge.handlers.replies import Reply
from ccin_bridge.handlers.requests import Request
from ccin_bridge.store.db import Database

OFFICERS_TG = "-1001000000001"
OFFICERS_SLACK = "C0OFFICERS"
HOUSING_TG = "-1001000000002"
ADMIN = UserRef("telegram", "900000001", display_name="Ada Admin", username="ada_admin")
ALEX_TG = UserRef("telegram", "700123456", display_name="Alex Example", username="alexexample")
ALEX_SLACK = UserRef("slack", "U0ALEXEXAMPLE", display_name="Alex Example", username="alex.ex")


def bound_settings(settings: Settings, *, admins: list[str] | None = None) -> Settings:
    groups = []
    for g in settings.groups:
        if g.slug == "officers":
            g = g.model_copy(
                update={"chats": Chats({"telegram": [int(OFFICERS_TG)], "slack": [OFFICERS_SLACK]})}
            )
        elif g.slug == "housing":
            g = g.model_copy(update={"chats": Chats({"telegram": [int(HOUSING_TG)]})})
        groups.append(g)
    return settings.model_copy(
        update={"groups": groups, "admins": [ADMIN.key] if admins is None else admins}
    )


async def make_bridge(
    settings: Settings,
    db: Database,
    clock: Callable[[], datetime],
    *,
    admins: list[str] | None = None,
) -> Bridge:
    bridge = Bridge(bound_settings(settings, admins=admins), db, all_commands(), clock=clock)
    await bridge.start()
    return bridge


def dm(user: UserRef, command: str, args: str = "", *, button: bool = False) -> Request:
    prefix = "/ccin " if user.platform == "slack" else "/"
    return Request(
        user,
        ChatRef(user.platform, user.user_id, is_private=True),
        command,
        args,
        from_button=button,
        prefix=prefix,
    )


async def say(bridge: Bridge, user: UserRef, line: str) -> list[Reply]:
    """Send one line as `user` in a DM, like an adapter would (commands or plain text)."""
    return await bridge.handle_text(lambda c, a: dm(user, c, a), line)


def texts(replies: list[Reply]) -> str:
    return "\n".join(r.plain_text for r in replies)


def actions(replies: list[Reply]) -> list[str]:
    return [b.action for r in replies for row in r.buttons for b in row]


class FakeChatAdmin:
    """A platform's chat membership as a set per chat; records every call it is asked."""

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.chats: dict[str, set[str]] = {}
        self.calls: list[tuple[str, str, str]] = []
        self.fail_with: Exception | None = None

    async def admit(self, *, chat_id: str, user_id: str, label: str) -> str | None:
        self.calls.append(("admit", chat_id, user_id))
        if self.fail_with is not None:
            raise self.fail_with
        if self.platform == "slack":
            self.chats.setdefault(chat_id, set()).add(user_id)
            return None
        return f"https://t.me/+invite{len(self.calls)}"

    async def remove(self, *, chat_id: str, user_id: str) -> None:
        self.calls.append(("remove", chat_id, user_id))
        if self.fail_with is not None:
            raise self.fail_with
        self.chats.get(chat_id, set()).discard(user_id)

    async def members(self, *, chat_id: str) -> set[str] | None:
        return set(self.chats.get(chat_id, set()))

    async def is_member(self, *, chat_id: str, user_id: str) -> bool | None:
        return user_id in self.chats.get(chat_id, set())


async def join_officers(bridge: Bridge, user: UserRef) -> list[Reply]:
    """Walk the whole join flow for the Officer Network as `user`."""
    await say(bridge, user, "/join officers")
    await say(bridge, user, "/join officers --accept")
    await say(bridge, user, "Oxford City Council")
    return await say(bridge, user, "officers")


async def approve_all(bridge: Bridge) -> None:
    pending = await say(bridge, ADMIN, "/pending")
    for action in actions(pending):
        if action.startswith("approve "):
            await say(bridge, ADMIN, "/" + action)

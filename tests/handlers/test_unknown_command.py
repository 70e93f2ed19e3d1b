"""An unknown command gets "did you mean ...?" from the registered commands it may run."""

from __future__ import annotations

from ccin_bridge.handlers.commands import all_commands
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge, Command, Context
from ccin_bridge.handlers.identity import ChatRef, UserRef
from ccin_bridge.handlers.replies import Reply, text
from ccin_bridge.store.db import Database
from tests.conftest import ALICE, Clock

BOSS = UserRef("terminal", "boss", display_name="Boss Example")


async def say(bridge: Bridge, line: str, user: UserRef = ALICE) -> str:
    chat = ChatRef(user.platform, f"dm-{user.user_id}", is_private=True)
    replies = await bridge.handle_text(bridge.requests(user, chat), line)
    return "\n".join(r.plain_text for r in replies)


async def test_a_typo_of_a_command_is_answered_with_the_command(bridge: Bridge) -> None:
    answer = await say(bridge, "/evnts")
    assert "I don't know the command /evnts." in answer
    assert "Did you mean /events?" in answer


async def test_admin_commands_are_suggested_to_admins_only(bridge: Bridge) -> None:
    member = await say(bridge, "/brodcast hello")
    assert "I don't know the command /brodcast." in member
    assert "/broadcast" not in member and "Did you mean" not in member
    bridge.grant_session_admin(BOSS)
    admin = await say(bridge, "/brodcast hello", BOSS)
    assert "Did you mean /broadcast?" in admin


async def test_suggestions_come_from_the_registered_commands(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    async def knit(ctx: Context) -> Reply:
        return text("Knitting.")

    knitting = Command("knitting", "Knit something", knit, aliases=("purl",))
    bridge = Bridge(settings, sqlite_db, [*all_commands(), knitting], clock=clock)
    assert "Did you mean /knitting?" in await say(bridge, "/kniting")
    assert "Did you mean /purl?" in await say(bridge, "/prul")

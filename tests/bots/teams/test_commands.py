"""Commands typed in Teams and buttons pressed, answered with Adaptive Cards, through the real
SDK against the fake Bot Connector (which refuses any card Teams would: see conftest.py)."""

from __future__ import annotations

from sqlalchemy import func, select

from ccin_bridge.handlers.commands import all_commands
from ccin_bridge.store import addresses, people
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Base
from tests.bots.teams.conftest import ADA, BEN, CHANNEL, Person, Teams
from tests.fakes.teams_connector import FakeConnector, new_key


async def row_counts(db: Database) -> dict[str, int]:
    async with db.session() as session:
        return {
            table.name: int(await session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


async def test_help_in_the_personal_chat_is_a_card_reply(
    teams: Teams, connector: FakeConnector
) -> None:
    for line in ("help", "/help", " HELP "):
        (card, *_) = await teams.say(line)
        assert card.conversation_id == ADA.personal
        assert "What I can do" in card.text
        # Spelled the way Teams users type them: bare, as the app manifest lists them.
        assert "search WORDS" in card.text and "/search" not in card.text
    assert all(sent.reply_to for sent in connector.sent)  # replies to the activity
    assert connector.unauthorised == 0 and connector.tokens_issued


async def test_every_command_answers_with_a_card(teams: Teams, connector: FakeConnector) -> None:
    for n, command in enumerate(sorted(c.name for c in all_commands())):
        # One person each: a command that starts a flow would take the next line as its answer.
        person = Person(f"0d0d0d0d-0000-4000-8000-{n:012d}", f"29:person-{n}", "Ada Example")
        cards = await teams.say(command, person)
        assert cards, f"{command}: no answer"
        assert all(card.text.strip() for card in cards), f"{command}: an empty card"
        assert all("I don't know the command" not in card.text for card in cards), command


async def test_search_finds_the_food_project_as_a_link(teams: Teams) -> None:
    (card,) = await teams.say("search food")
    assert "1 result for “food”" in card.text
    (link,) = [run for run in card.runs() if "selectAction" in run]
    assert link["text"] == "Cooperative Approaches to Sustainable Food"
    assert link["selectAction"] == {
        "type": "Action.OpenUrl",
        "url": "https://bit.ly/CCIN-sustainable-food",
    }


async def test_paging_by_pressing_the_buttons(teams: Teams) -> None:
    (first,) = await teams.say("search council")
    assert "(page 1 of " in first.text
    assert "◀ Previous" not in first.labels
    (second,) = await teams.press(first, "Next ▶")
    assert "(page 2 of " in second.text
    assert {"◀ Previous", "Next ▶"} <= set(second.labels)
    (back,) = await teams.press(second, "◀ Previous")
    assert "(page 1 of " in back.text


async def test_suppliers_and_events(teams: Teams) -> None:
    (suppliers,) = await teams.say("suppliers solicitors")
    assert "Anthony Collins Solicitors" in suppliers.text
    (events,) = await teams.say("events")
    assert "Upcoming events" in events.text


async def test_data_is_never_read_as_markup(teams: Teams) -> None:
    (found,) = await teams.say("search **bold** [x](https://evil.example) <b>&amp; 🍲")
    assert "for “**bold** [x](https://evil.example) <b>&amp; 🍲”" in found.text
    # Text is TextRuns, which Teams shows as they are; the only links are the bridge's own.
    assert all("evil" not in str(run.get("selectAction")) for run in found.runs())
    odd = type(ADA)("0c0c0c0c-0000-4000-8000-00000000000c", "29:odd", "o<&>dd **🌱**")
    (hello,) = await teams.say("start", person=odd)
    assert "Hello o<&>dd **🌱**, welcome" in hello.text


async def test_unknown_commands_are_explained(teams: Teams) -> None:
    (typo,) = await teams.say("serach food")
    assert "Did you want to search for “serach food”?" in typo.text


async def test_channel_messages_need_an_at_mention(teams: Teams, connector: FakeConnector) -> None:
    assert await teams.say("events", conversation=CHANNEL) == []
    mention = {
        "type": "mention",
        "text": "<at>CCIN</at>",
        "mentioned": {"id": "28:" + connector.app_id, "name": "CCIN"},
    }
    (events,) = await teams.say("<at>CCIN</at> events", conversation=CHANNEL, entities=[mention])
    assert events.conversation_id == CHANNEL
    assert "Upcoming events" in events.text


async def test_a_private_answer_asked_for_in_a_channel_goes_to_the_personal_chat(
    teams: Teams, connector: FakeConnector
) -> None:
    mention = {
        "type": "mention",
        "text": "<at>CCIN</at>",
        "mentioned": {"id": "28:" + connector.app_id, "name": "CCIN"},
    }
    # Ben has never opened the bot's chat: the channel is told how to see it, and no more.
    cards = await teams.say("<at>CCIN</at> mydata", BEN, conversation=CHANNEL, entities=[mention])
    assert [c.conversation_id for c in cards] == [CHANNEL]
    assert "open a chat with me" in cards[0].text and "What we hold" not in cards[0].text
    # Ada has: the answer reaches her there, proactively.
    await teams.say("start")
    cards = await teams.say("<at>CCIN</at> mydata", conversation=CHANNEL, entities=[mention])
    assert {c.conversation_id for c in cards} == {ADA.personal}
    assert "What we hold about you" in cards[0].text


async def test_forged_expired_and_missing_tokens_are_refused_and_nothing_done(
    teams: Teams, connector: FakeConnector, sqlite_db: Database
) -> None:
    before = await row_counts(sqlite_db)
    activity = teams.activity(text="join housing --accept")
    refused: list[str | None] = [
        None,  # no Authorization header
        "not-a-jwt",
        connector.token(key=new_key()),  # signed by another key, same key id
        connector.token(expires_in=-600),  # expired beyond the clock skew allowed
        connector.token(audience="00000000-1111-2222-3333-444444444444"),  # another bot's
        connector.token(issuer="https://evil.example"),  # an issuer not allowed
        connector.token(key_id="unknown-key"),
    ]
    for token in refused:
        assert await teams.post(activity, token=token) == 401, token
    # A valid token naming another service URL than the activity's is refused too (by
    # auth.same_service: the SDK does not compare them).
    other = connector.token(service_url="https://elsewhere.example/")
    assert await teams.post(activity, token=other) == 401
    assert await row_counts(sqlite_db) == before
    assert connector.sent == [] and connector.tokens_issued == []
    # The same activity, properly signed, does change the database: the check above can fail.
    (joined,) = await teams.say("join housing --accept")
    assert "Which organisation are you from?" in joined.text
    assert await row_counts(sqlite_db) != before


async def test_the_person_is_known_by_their_entra_id_and_their_chat_is_kept(
    teams: Teams, sqlite_db: Database
) -> None:
    await teams.say("start")
    async with sqlite_db.session() as session:
        person = await people.find_person(session, "teams", ADA.aad)
    assert person is not None
    async with sqlite_db.read() as session:
        address = await addresses.address_of(session, "teams", ADA.aad)
    assert address is not None
    assert address["conversation"]["id"] == ADA.personal
    assert address["serviceUrl"].startswith("http://127.0.0.1:")


async def test_a_verified_request_that_is_not_an_activity_is_refused_and_loses_nothing(
    teams: Teams, connector: FakeConnector
) -> None:
    headers = {"Authorization": "Bearer " + connector.token(), "Content-Type": "application/json"}
    for body in (b"not json", b"[1, 2]", b'{"type": "message"}'):
        async with teams.session.post(teams.url, data=body, headers=headers) as answer:
            assert answer.status in (400, 401), body
    broken = teams.activity(text="help")
    broken["conversation"] = "not an object"
    async with teams.session.post(teams.url, json=broken, headers=headers) as answer:
        assert answer.status == 400
    assert connector.sent == []
    assert await teams.say("help")  # the next good one is answered

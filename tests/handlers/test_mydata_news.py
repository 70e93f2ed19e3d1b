"""/mydata: the export holds the text of the news the person wrote, and tells opt-outs apart."""

from __future__ import annotations

import json

from ccin_bridge.handlers.core import Bridge
from ccin_bridge.store import news, people, subscriptions
from tests.conftest import ALICE, ask

TITLE = "Sampleford opens a community energy co-op"
BODY = "Residents of Sampleford now own the solar panels on three council buildings."


async def _alice(bridge: Bridge) -> int:
    await bridge.handle(ask("help"))
    async with bridge.db.read() as session:
        person = await people.find_person(session, "terminal", ALICE.user_id)
    assert person is not None
    return person.id


async def test_mydata_exports_the_text_of_the_news_they_wrote(bridge: Bridge) -> None:
    person_id = await _alice(bridge)
    async with bridge.db.session() as session:
        await news.submit(
            session, person_id=person_id, title=TITLE, body=BODY, url="https://example.org/a"
        )
        await subscriptions.set_wanted(session, person_id, "digest:officers", True)
        await subscriptions.set_wanted(session, person_id, subscriptions.REMINDERS, False)
    (reply,) = await bridge.handle(ask("mydata"))
    assert reply.attachment is not None
    data = json.loads(reply.attachment.content)
    [item] = data["news"]
    assert (item["title"], item["body"], item["url"]) == (TITLE, BODY, "https://example.org/a")
    assert item["status"] == "submitted"
    # An opt-out is held, but it is not a subscription.
    assert data["subscriptions"] == ["digest:officers"]
    assert data["opted_out"] == ["reminders"]
    assert "Subscriptions: Monthly digest for Officers" in reply.plain_text
    assert "News you sent: 1 item, with their text in the file" in reply.plain_text

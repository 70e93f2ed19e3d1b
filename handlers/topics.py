"""What each subscription topic is called, in one wording for every reply and button.

The store's topics are `digest:<audience-slug>`, `reminders` and `announcements`; people never
see those keys. /subscribe, /home, /mydata and the notes sent when someone leaves a group all
name topics through `name`, so a topic reads the same wherever it appears.
"""

from __future__ import annotations

from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.errors import UserFacingError
from ccin_bridge.store.subscriptions import ANNOUNCEMENTS, DIGEST_PREFIX, REMINDERS, digest_topic

FIXED = {
    REMINDERS: ("Event reminders", "before network events and meetings"),
    ANNOUNCEMENTS: ("Announcements from the network", "sent by the network's admins"),
}
# What people may type for the fixed topics besides their key.
_ALIASES = {"reminder": REMINDERS, "announcement": ANNOUNCEMENTS}


def every(settings: Settings) -> list[str]:
    """Every topic a person can choose, digests first in config order."""
    return [*(digest_topic(a.slug) for a in settings.audiences), REMINDERS, ANNOUNCEMENTS]


def name(settings: Settings, topic: str) -> str:
    """A topic's name: `Monthly digest for Officers`, `Event reminders`."""
    if topic.startswith(DIGEST_PREFIX):
        slug = topic.removeprefix(DIGEST_PREFIX)
        audience = next((a for a in settings.audiences if a.slug == slug), None)
        return f"Monthly digest for {audience.name if audience else slug}"
    return FIXED[topic][0] if topic in FIXED else topic


def detail(settings: Settings, topic: str) -> str:
    """What a topic brings, to follow its name (empty when config says nothing)."""
    if topic.startswith(DIGEST_PREFIX):
        slug = topic.removeprefix(DIGEST_PREFIX)
        audience = next((a for a in settings.audiences if a.slug == slug), None)
        return audience.description if audience and audience.description else ""
    return FIXED[topic][1] if topic in FIXED else ""


def typed(settings: Settings, topic: str) -> str:
    """The shortest word that chooses `topic` in /subscribe (an audience's slug for a digest)."""
    return topic.removeprefix(DIGEST_PREFIX)


def listing(settings: Settings, topics: list[str]) -> str:
    """`A, B and C` by name."""
    names = [name(settings, t) for t in topics]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def find(settings: Settings, given: str) -> str:
    """A topic from what someone typed: its key (`digest:officers`), `digest officers`, the
    audience's slug or name (`officers`), or the topic's name (`Event reminders`)."""
    wanted = " ".join(given.casefold().replace("_", " ").split())
    wanted = wanted.replace("digest ", DIGEST_PREFIX, 1) if wanted.startswith("digest ") else wanted
    known = every(settings)
    for topic in known:
        if wanted in (topic, name(settings, topic).casefold()):
            return topic
    if wanted in _ALIASES:
        return _ALIASES[wanted]
    for audience in settings.audiences:
        if wanted.removeprefix(DIGEST_PREFIX) in (audience.slug, audience.name.casefold()):
            return digest_topic(audience.slug)
    choices = ", ".join(f"{typed(settings, t)} ({name(settings, t)})" for t in known)
    raise UserFacingError(f"There is no topic called “{given[:40]}”. The topics are: {choices}.")

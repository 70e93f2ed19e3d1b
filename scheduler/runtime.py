"""What scheduled jobs run against. Jobs take only ids (job stores pickle references), so they
look up the live database and outbound adapters here, set once at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field

from ccin_bridge.handlers.core import Bridge
from ccin_bridge.scheduler.outbound import ChatAdmin, Outbound


@dataclass
class Runtime:
    bridge: Bridge
    outbound: dict[str, Outbound] = field(default_factory=dict)
    chat_admins: dict[str, ChatAdmin] = field(default_factory=dict)


_current: Runtime | None = None


def install(runtime: Runtime) -> None:
    global _current
    _current = runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("the scheduler runtime is not installed; start jobs via build_scheduler")
    return _current


def uninstall() -> None:
    global _current
    _current = None

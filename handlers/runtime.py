"""What handlers of chat events need from the running bridge, without importing the core
(which dispatches to them): its settings and its database."""

from __future__ import annotations

from typing import Protocol

from ccin_bridge.handlers.config import Settings
from ccin_bridge.store.db import Database


class Runtime(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def db(self) -> Database: ...

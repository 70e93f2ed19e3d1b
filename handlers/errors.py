"""Errors whose message is meant for the person in the chat."""

from __future__ import annotations


class UserFacingError(Exception):
    """Shown to the user as is; raise it for anything the user can fix or should know."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


GENERIC_ERROR = (
    "Sorry, something went wrong on our side while doing that. "
    "It has been logged; please try again in a moment."
)

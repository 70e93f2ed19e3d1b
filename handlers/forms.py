"""A form submitted on a platform (Slack's broadcast modal): its answers by field, and what
the flow made of them. It travels in the request (`Request.form`) to the flow's command and
comes back in the outcome of `Bridge.dispatch(FormSubmitted(...))`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass
class Form:
    """`errors` by field name; `taken`: the flow accepted every answer."""

    answers: Mapping[str, str]
    check_only: bool = False  # only check the answers: nothing is saved, nothing is asked
    errors: dict[str, str] = field(default_factory=dict)
    taken: bool = False

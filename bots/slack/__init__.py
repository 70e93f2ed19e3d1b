"""Slack: Bolt in HTTP mode, replies as Block Kit. `SlackAdapter` is the entry point's handle."""

from ccin_bridge.bots.slack.adapter import SlackAdapter

__all__ = ["SlackAdapter"]

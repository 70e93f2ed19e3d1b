"""Slack: Bolt in HTTP or Socket Mode, replies as Block Kit (`adapter.SlackAdapter`).

Kept light: the registry reads `platform` without loading Slack's libraries."""

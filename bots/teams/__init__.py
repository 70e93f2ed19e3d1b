"""The Microsoft Teams adapter, on the Microsoft 365 Agents SDK (bots/teams/adapter.py)."""

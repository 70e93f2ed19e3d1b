"""Telegram adapter: `adapter.TelegramBot` (PTB in and out) and `render` (Reply -> HTML)."""

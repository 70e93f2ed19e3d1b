"""The admins' web console: server-rendered pages on a listener of its own (aiohttp, Jinja2)."""

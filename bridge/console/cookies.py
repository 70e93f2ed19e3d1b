"""The console's session cookie name, shared by the site and its pages (which the site
imports, so it cannot live in server.py)."""

SESSION_COOKIE = "ccin_console"

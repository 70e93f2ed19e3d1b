"""The terminal chat: the bridge in a terminal or a pipe (`chat.TerminalChat`), for trying it
out and for admins on the server."""

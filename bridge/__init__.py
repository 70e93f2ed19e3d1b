"""ccin-bridge: the chat-bot bridge for the Co-operative Councils' Innovation Network.

One import package. Its subpackages are the repository's top-level folders (see pyproject's
`package-dir`): `bots` (platform adapters), `handlers` (platform-neutral logic), `store`
(models, search, migrations) and `scheduler` (jobs). This folder holds what ties them
together: the composition root (`app`, `background`) and the command line (`cli`).
"""

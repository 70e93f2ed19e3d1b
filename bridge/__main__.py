"""`python -m ccin_bridge`: the same as the `ccin-bridge` command."""

from ccin_bridge.cli.main import main

raise SystemExit(main())

"""The `ccin-bridge` command line: `main` parses and dispatches; one module per command group."""

EXIT_CONFIG = 2  # bad configuration or arguments: named in one line, no traceback

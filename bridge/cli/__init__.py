"""The `ccin-bridge` command line: `main` parses and dispatches; one module per command group."""

"""Fixtures shared by the bridge tests."""

from tests.bridge.console_support import site

__all__ = ["site"]

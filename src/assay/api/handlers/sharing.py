"""Framework sharing operations."""

from . import operation  # noqa: F401

"""Assessment report operations."""

from . import operation  # noqa: F401

"""Operation handlers: each takes the services, the caller and the validated input dict, and
returns the output dict. ``HANDLERS`` maps operation names (as in botocore's model) to them."""

from __future__ import annotations

from typing import Any, Callable

from ...service import Services
from ...service.auth import Caller

Handler = Callable[[Services, Caller, dict[str, Any]], dict[str, Any]]
HANDLERS: dict[str, Handler] = {}

# Operations that still answer while the account is deregistered (so it can come back).
ALWAYS_AVAILABLE = {"GetAccountStatus", "RegisterAccount", "GetSettings", "UpdateSettings"}

# Writes whose work must commit in steps, so they cannot run in one transaction with the
# serialization of their answer (every other write does, through Store.atomic): a share is
# committed as REPLICATING before the peer is called, and answers are sent to the peer; a
# manual import copies S3 objects before it takes the write lock.
STEPWISE_WRITES = {"StartAssessmentFrameworkShare", "UpdateAssessmentFrameworkShare",
                   "BatchImportEvidenceToAssessmentControl"}


# Operations whose handler only reads the store (no write, no call to AWS or to any other
# server, no file): the API runs them on the event loop itself, without a hand-off to a
# worker thread (app.py). A write attempted there is refused before it starts
# (``store.WouldBlock``) and the call runs again on a thread, so a wrong entry costs time,
# never correctness; a call to anything else would hold up every request meanwhile.
STORE_READS: set[str] = set()


def operation(name: str, store_read: bool = False) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        if name in HANDLERS:
            raise RuntimeError(f"two handlers for {name}")
        HANDLERS[name] = handler
        if store_read:
            STORE_READS.add(name)
        return handler
    return register


def load_all() -> dict[str, Handler]:
    # Importing a module registers its operations.
    from . import (account, assessments, controls, evidence, frameworks, insights,  # noqa: F401
                   reports, review, sharing, tagging)
    return HANDLERS

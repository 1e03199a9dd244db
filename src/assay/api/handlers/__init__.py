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


def operation(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        if name in HANDLERS:
            raise RuntimeError(f"two handlers for {name}")
        HANDLERS[name] = handler
        return handler
    return register


def load_all() -> dict[str, Handler]:
    # Importing a module registers its operations.
    from . import (account, assessments, controls, evidence, frameworks, insights,  # noqa: F401
                   reports, review, sharing, tagging)
    return HANDLERS

"""Domain errors. Each carries the Audit Manager error code and HTTP status it is sent with,
so the API face serializes it directly and the console shows its message."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import sqlalchemy as sa

from ..store import is_unique_violation
# The store's refusal when PostgreSQL stays at its connection limit: not a ServiceError (the
# store sits below this layer), but the API and console answer it as ``ThrottlingError``.
from ..store import StoreBusy  # noqa: F401


class ServiceError(Exception):
    code = "InternalServerException"
    status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def extra(self) -> dict[str, Any]:
        return {}


class ValidationError(ServiceError):
    code = "ValidationException"
    status = 400

    def __init__(self, message: str, *, reason: str = "other", fields: list[dict] | None = None):
        super().__init__(message)
        self.reason = reason
        self.fields = fields or []

    @classmethod
    def for_fields(cls, fields: list[dict[str, str]]) -> "ValidationError":
        summary = "; ".join(f"{f['name']}: {f['message']}" for f in fields[:5])
        more = f" (and {len(fields) - 5} more)" if len(fields) > 5 else ""
        return cls(
            f"{len(fields)} validation error{'s' if len(fields) != 1 else ''} detected: {summary}{more}",
            reason="fieldValidationFailed",
            fields=fields,
        )

    @classmethod
    def field(cls, name: str, message: str) -> "ValidationError":
        return cls.for_fields([{"name": name, "message": message}])

    def extra(self) -> dict[str, Any]:
        out: dict[str, Any] = {"reason": self.reason}
        if self.fields:
            out["fields"] = self.fields
        return out


class NotFoundError(ServiceError):
    code = "ResourceNotFoundException"
    status = 404

    def __init__(self, resource_type: str, resource_id: str, message: str | None = None):
        super().__init__(message or f"The {resource_type} {resource_id} does not exist.")
        self.resource_type = resource_type
        self.resource_id = resource_id

    def extra(self) -> dict[str, Any]:
        return {"resourceId": self.resource_id, "resourceType": self.resource_type}


class AccessDeniedError(ServiceError):
    code = "AccessDeniedException"
    status = 403


class QuotaExceededError(ServiceError):
    code = "ServiceQuotaExceededException"
    status = 402


class ThrottlingError(ServiceError):
    code = "ThrottlingException"
    status = 429


class NotImplementedYet(ServiceError):
    """An operation of the model that this release does not serve yet: said plainly, by name."""

    code = "ValidationException"
    status = 400

    def __init__(self, operation: str):
        super().__init__(f"{operation} is not available in this version of Assay yet.")
        self.operation = operation

    def extra(self) -> dict[str, Any]:
        return {"reason": "unknownOperation"}


class AuthError(ServiceError):
    """SigV4 failures, with the error codes AWS's front door uses."""

    status = 403

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@contextlib.contextmanager
def refuse_duplicate(column: sa.Column, field: str, message: str) -> Iterator[None]:
    """Around a write that checks ``column`` is free, then inserts: a concurrent writer that
    inserted the same value first gets the same ``ValidationError`` as the check gives, never
    a database error."""
    try:
        yield
    except sa.exc.IntegrityError as error:
        if is_unique_violation(error, column):
            raise ValidationError.field(field, message) from None
        raise

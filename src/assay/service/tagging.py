"""Tags on the resources Assay issues ARNs for.

Tagging a resource is changing it: the caller needs the same rights as the resource's own
operations (for an assessment: a process owner of it, and the assessment ACTIVE, as for
UpdateAssessment; reading its tags needs what GetAssessment needs, so a delegate sees only
assessments delegated to it). Every tag change is recorded: in the assessment's change log,
or, for library content (which has no change log in Audit Manager's model), in the server log.
"""

from __future__ import annotations

import logging
from typing import Callable

import sqlalchemy as sa

from ..store import Query, Store, tables
from . import arns
from .access import assessment_access
from .activity import log_change
from .auth import MANAGE_ASSESSMENT, READ_ASSESSMENT, READ_LIBRARY, WRITE_LIBRARY, Caller
from .errors import NotFoundError, ValidationError

# What a caller needs to read / change the tags of each kind of resource.
_RIGHTS = {
    "control": (READ_LIBRARY, WRITE_LIBRARY),
    "assessmentFramework": (READ_LIBRARY, WRITE_LIBRARY),
    "assessment": (READ_ASSESSMENT, MANAGE_ASSESSMENT),
}

# Built once: the statement of every Get* of a taggable resource.
_TAGS_OF = Query(sa.select(tables.tags.c.key, tables.tags.c.value).where(
    tables.tags.c.resource_id == sa.bindparam("resource_id")))

# kind -> (conn, id) -> "standard" | "custom" | None; registered by the services that own them.
Resolver = Callable[[sa.Connection, str], str | None]

changes = logging.getLogger("assay.changes")


class TagService:
    def __init__(self, store: Store):
        self.store = store
        self.resolvers: dict[str, Resolver] = {}

    def read(self, conn: sa.Connection, resource_id: str) -> dict[str, str]:
        return dict(_TAGS_OF.all(conn, resource_id=resource_id))

    def read_many(self, conn: sa.Connection, resource_ids: list[str]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        if resource_ids:
            rows = conn.execute(
                sa.select(tables.tags).where(tables.tags.c.resource_id.in_(resource_ids))
            ).all()
            for row in rows:
                out.setdefault(row.resource_id, {})[row.key] = row.value
        return out

    def replace(self, conn: sa.Connection, resource_id: str, new_tags: dict[str, str]) -> None:
        conn.execute(tables.tags.delete().where(tables.tags.c.resource_id == resource_id))
        self._add(conn, resource_id, new_tags)

    def _add(self, conn: sa.Connection, resource_id: str, new_tags: dict[str, str]) -> None:
        if new_tags:
            conn.execute(tables.tags.insert(), [
                {"resource_id": resource_id, "key": k, "value": v} for k, v in new_tags.items()
            ])

    # -- the API's three operations -----------------------------------------------------

    def list_for(self, caller: Caller, resource_arn: str) -> dict[str, str]:
        kind, resource_id = arns.parse(resource_arn)
        caller.require(_RIGHTS[kind][0])
        with self.store.read() as conn:
            self._resolve(conn, kind, resource_id)
            if kind == "assessment":
                assessment_access(conn, caller, resource_id)  # as GetAssessment
            return self.read(conn, resource_id)

    def tag(self, caller: Caller, resource_arn: str, new_tags: dict[str, str]) -> None:
        kind, resource_id = arns.parse(resource_arn)
        caller.require(_RIGHTS[kind][1])
        with self.store.write() as conn:
            self._writable(conn, caller, kind, resource_id)
            current = self.read(conn, resource_id)
            if len({**current, **new_tags}) > 50:
                raise ValidationError.field("tags", "A resource can have at most 50 tags.")
            conn.execute(tables.tags.delete().where(
                tables.tags.c.resource_id == resource_id, tables.tags.c.key.in_(list(new_tags))))
            self._add(conn, resource_id, new_tags)
            self._record(conn, caller, kind, resource_id, resource_arn,
                         f"tagged {', '.join(sorted(new_tags))}")

    def untag(self, caller: Caller, resource_arn: str, keys: list[str]) -> None:
        kind, resource_id = arns.parse(resource_arn)
        caller.require(_RIGHTS[kind][1])
        with self.store.write() as conn:
            self._writable(conn, caller, kind, resource_id)
            conn.execute(tables.tags.delete().where(
                tables.tags.c.resource_id == resource_id, tables.tags.c.key.in_(keys)))
            self._record(conn, caller, kind, resource_id, resource_arn,
                         f"untagged {', '.join(sorted(set(keys)))}")

    def _resolve(self, conn: sa.Connection, kind: str, resource_id: str) -> str:
        resolver = self.resolvers.get(kind)
        found = resolver(conn, resource_id) if resolver else None
        if found is None:
            raise NotFoundError(kind, resource_id)
        return found

    def _writable(self, conn: sa.Connection, caller: Caller, kind: str, resource_id: str) -> None:
        if self._resolve(conn, kind, resource_id) == "standard":
            raise ValidationError.field("resourceArn", "Standard content is read-only.")
        if kind == "assessment":  # as UpdateAssessment
            access = assessment_access(conn, caller, resource_id)
            access.require_owner()
            access.require_active()

    def _record(self, conn: sa.Connection, caller: Caller, kind: str, resource_id: str,
                resource_arn: str, what: str) -> None:
        if kind == "assessment":
            name = conn.execute(sa.select(tables.assessments.c.name).where(
                tables.assessments.c.id == resource_id)).scalar_one()
            log_change(conn, caller, resource_id, "ASSESSMENT", f"{name} ({what})"[:2048],
                       "UPDATE_METADATA")
        else:
            changes.info("%s %s %s", caller.arn, what[:500], resource_arn)

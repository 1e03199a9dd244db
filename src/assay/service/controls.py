"""Controls: the standard library's (read-only, from data files) and custom ones (stored)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import sqlalchemy as sa

from ..library import LIBRARY_TIMESTAMP, Library, StandardControl
from ..model.controls import (control_sources, keyword_corrections, mapping_source_problems,
                              normalised_source)
from ..store import Query, Store, tables
from . import arns, paging
from .auth import READ_LIBRARY, WRITE_LIBRARY, Caller
from .errors import NotFoundError, ValidationError, refuse_duplicate
from .tagging import TagService

UNCATEGORIZED = "UNCATEGORIZED"
_c = tables.controls
# Built once (statements of every request are not rebuilt and re-keyed each time).
# The hot reads of GetControl and ListControls run on the DB-API cursor (``Query``).
_BY_ID = Query(sa.select(_c).where(_c.c.id == sa.bindparam("id")))
_EXISTS = Query(sa.select(_c.c.id).where(_c.c.id == sa.bindparam("id")))
_CUSTOM_METADATA = paging.pageable(
    sa.select(_c.c.id, _c.c.name, _c.c.mapping_sources, _c.c.created_at, _c.c.updated_at)
    .order_by(_c.c.name, _c.c.id))
_DETAIL_FIELDS = {
    "description": "description",
    "testingInformation": "testing_information",
    "actionPlanTitle": "action_plan_title",
    "actionPlanInstructions": "action_plan_instructions",
}


def _name_taken(name: str) -> str:
    return f"A custom control named '{name}' already exists."


def actor_name(caller: Caller) -> str:
    """createdBy / lastUpdatedBy: the model allows letters, digits, spaces, - _ ( ) [ ]."""
    return "".join(c if c.isalnum() or c in " -_()[]" else "-" for c in caller.name)[:100] or "assay"


class ControlService:
    def __init__(self, store: Store, library: Library, account_id: str, tags: TagService):
        self.store = store
        self.library = library
        self.account_id = account_id
        self.tags = tags

    # -- reads ----------------------------------------------------------------------------

    def get(self, caller: Caller, control_id: str) -> dict[str, Any]:
        caller.require(READ_LIBRARY)
        with self.store.read() as conn:
            return self.describe(conn, caller.region, control_id)

    def describe(self, conn: sa.Connection, region: str, control_id: str) -> dict[str, Any]:
        """The full Control shape of one control, standard or custom."""
        standard = self.library.controls.get(control_id)
        if standard is not None:
            control = self._standard(standard, region)
        else:
            row = _BY_ID.first(conn, id=control_id)
            if row is None:
                raise NotFoundError("control", control_id)
            control = self._custom(row, region)
        control["tags"] = self.tags.read(conn, control_id)
        return control

    def equivalents(self, caller: Caller, control_id: str) -> list[dict[str, Any]]:
        """The crosswalk of a control (`Library.equivalents` says what makes two controls
        equivalent), as GetControl's Assay member ``equivalentControls``:
        ``[{"id", "arn", "name", "frameworks": [{"id", "name"}],
        "sharedSources": [{"sourceType", "keywordValue"}]}]``, by name. Empty for a custom
        control (only the standard library's reviewed strengths say what `tests` a
        requirement) and for an unknown id: callers read the control itself first (`get`,
        which refuses an unknown one), so this needs no database read of its own."""
        caller.require(READ_LIBRARY)
        if control_id not in self.library.controls:
            return []
        return [{
            "id": e.control.id,
            "arn": arns.arn(caller.region, self.account_id, "control", e.control.id),
            "name": e.control.name,
            "frameworks": [{"id": f.id, "name": f.name}
                           for f in self.library.frameworks_of(e.control.id)],
            "sharedSources": [{"sourceType": t, "keywordValue": k} for t, k in e.shared],
        } for e in self.library.equivalents(control_id)]

    def describe_many(self, conn: sa.Connection, region: str, ids: list[str]) -> dict[str, dict]:
        """Several controls in one query (frameworks show theirs in full)."""
        found = {i: self._standard(self.library.controls[i], region)
                 for i in ids if i in self.library.controls}
        custom_ids = [i for i in ids if i not in found]
        if custom_ids:
            rows = conn.execute(
                sa.select(tables.controls).where(tables.controls.c.id.in_(custom_ids))
            ).all()
            found.update({row.id: self._custom(row, region) for row in rows})
        all_tags = self.tags.read_many(conn, list(found))
        for control_id, control in found.items():
            control["tags"] = all_tags.get(control_id, {})
        return found

    def exists(self, conn: sa.Connection, control_id: str) -> bool:
        if control_id in self.library.controls:
            return True
        return _EXISTS.first(conn, id=control_id) is not None

    def list(self, caller: Caller, control_type: str, catalog_id: str | None,
             token: str | None, max_results: int | None) -> tuple[list[dict], str | None]:
        caller.require(READ_LIBRARY)
        region = caller.region
        if control_type == "Standard":
            if catalog_id and catalog_id != UNCATEGORIZED:
                controls = self.library.controls_in_domain(catalog_id)
            elif catalog_id == UNCATEGORIZED:
                controls = []
            else:
                controls = list(self.library.controls.values())
            # The page first, then metadata for its controls alone: the library is thousands
            # of controls, and a whole control (sources copied) for each, on every page, was
            # most of the cost of reading it.
            chunk, next_token = paging.page(controls, token, max_results,
                                            f"controls:{control_type}:{catalog_id}")
            return [self._standard_metadata(c, region) for c in chunk], next_token
        elif control_type == "Custom":
            if catalog_id and catalog_id != UNCATEGORIZED:
                items = []  # custom controls belong to no control domain
            else:
                # One page in SQL, and only the columns the metadata shows.
                with self.store.read() as conn:
                    rows, next_token = paging.page_query(
                        conn, _CUSTOM_METADATA, token, max_results,
                        f"controls:{control_type}:{catalog_id}")
                return [self._custom_metadata(row, region) for row in rows], next_token
        else:
            items = []  # "Core" controls come from AWS Control Catalog, which Assay has not
        return paging.page(items, token, max_results, f"controls:{control_type}:{catalog_id}")

    # -- writes ---------------------------------------------------------------------------

    def create(self, caller: Caller, params: dict[str, Any],
               conn: sa.Connection | None = None) -> dict[str, Any]:
        """Create a custom control (in ``conn``'s transaction when given)."""
        caller.require(WRITE_LIBRARY)
        sources = self._checked_sources(params["controlMappingSources"])
        control_id = str(uuid.uuid4())
        now = time.time()
        with refuse_duplicate(_c.c.name, "name", _name_taken(params["name"])), \
                self.store.write_in(conn) as conn:
            self._record(conn, caller, control_id, "CREATE", f"Created '{params['name']}'.",
                         params["controlMappingSources"])
            self._check_name_free(conn, params["name"])
            conn.execute(tables.controls.insert().values(
                id=control_id, name=params["name"],
                mapping_sources=[{"sourceId": str(uuid.uuid4()), **s} for s in sources],
                created_at=now, updated_at=now,
                created_by=actor_name(caller), updated_by=actor_name(caller),
                **{column: params.get(member) for member, column in _DETAIL_FIELDS.items()},
            ))
            self.tags.replace(conn, control_id, params.get("tags") or {})
            return self.describe(conn, caller.region, control_id)

    def update(self, caller: Caller, control_id: str, params: dict[str, Any]) -> dict[str, Any]:
        caller.require(WRITE_LIBRARY)
        self._refuse_standard(control_id)
        sources = self._checked_sources(params["controlMappingSources"])
        with refuse_duplicate(_c.c.name, "name", _name_taken(params["name"])), \
                self.store.write() as conn:
            row = self._custom_row(conn, control_id)
            if params["name"] != row.name:
                self._check_name_free(conn, params["name"])
            self._record(conn, caller, control_id, "UPDATE", f"Updated '{params['name']}'.",
                         params["controlMappingSources"])
            conn.execute(tables.controls.update().where(tables.controls.c.id == control_id).values(
                name=params["name"],
                # Sources keep their id when the caller sends it back, as AWS does.
                mapping_sources=[{**s, "sourceId": s.get("sourceId") or str(uuid.uuid4())}
                                 for s in sources],
                updated_at=time.time(), updated_by=actor_name(caller),
                **{column: params.get(member) for member, column in _DETAIL_FIELDS.items()},
            ))
            return self.describe(conn, caller.region, control_id)

    def delete(self, caller: Caller, control_id: str) -> None:
        caller.require(WRITE_LIBRARY)
        self._refuse_standard(control_id)
        with self.store.write() as conn:
            self._custom_row(conn, control_id)
            users = conn.execute(
                sa.select(tables.frameworks.c.name)
                .join(tables.framework_controls,
                      tables.framework_controls.c.framework_id == tables.frameworks.c.id)
                .where(tables.framework_controls.c.control_id == control_id)
            ).scalars().all()
            if users:
                raise ValidationError.field(
                    "controlId", f"The control is used by framework(s) {', '.join(sorted(users))}; "
                                 "remove it from them first.")
            conn.execute(tables.controls.delete().where(tables.controls.c.id == control_id))
            conn.execute(tables.control_history.delete()
                         .where(tables.control_history.c.control_id == control_id))
            self.tags.replace(conn, control_id, {})

    def history(self, caller: Caller, control_id: str) -> list[dict[str, Any]]:
        """A custom control's change history, oldest first: ``{action, detail, createdAt,
        createdBy}`` with action CREATE, UPDATE or KEYWORD_CORRECTED. Standard controls have
        none (they change only with Assay's releases)."""
        caller.require(READ_LIBRARY)
        h = tables.control_history
        with self.store.read() as conn:
            if not self.exists(conn, control_id):
                raise NotFoundError("control", control_id)
            rows = conn.execute(sa.select(h).where(h.c.control_id == control_id)
                                .order_by(h.c.id)).all()
        return [{"action": r.action, "detail": r.detail, "createdAt": r.created_at,
                 "createdBy": r.created_by} for r in rows]

    @staticmethod
    def _record(conn: sa.Connection, caller: Caller, control_id: str, action: str, detail: str,
                sent_sources: list[dict]) -> None:
        """One history entry for the change, and one per keyword taken in canonical case."""
        now = time.time()
        entries = [(action, detail)] + [("KEYWORD_CORRECTED", c.describe())
                                        for c in keyword_corrections(sent_sources)]
        conn.execute(tables.control_history.insert(), [
            {"control_id": control_id, "action": a, "detail": d, "created_at": now,
             "created_by": caller.arn} for a, d in entries])

    # -- helpers ----------------------------------------------------------------------------

    def _checked_sources(self, sources: list[dict]) -> list[dict]:
        problems = mapping_source_problems(sources)
        if problems:
            raise ValidationError.for_fields(problems)
        return [normalised_source(s) for s in sources]

    def _refuse_standard(self, control_id: str) -> None:
        if control_id in self.library.controls:
            raise ValidationError.field(
                "controlId", "Standard controls are read-only; create a custom control instead.")

    def _check_name_free(self, conn: sa.Connection, name: str) -> None:
        taken = conn.execute(
            sa.select(tables.controls.c.id).where(tables.controls.c.name == name)
        ).first()
        if taken:
            raise ValidationError.field("name", _name_taken(name))

    def _custom_row(self, conn: sa.Connection, control_id: str):
        row = _BY_ID.first(conn, id=control_id)
        if row is None:
            raise NotFoundError("control", control_id)
        return row

    def _standard(self, control: StandardControl, region: str) -> dict[str, Any]:
        return {
            **self._standard_metadata(control, region),
            "type": "Standard",
            "description": control.description or None,
            "testingInformation": control.testing_information or None,
            "actionPlanTitle": control.action_plan_title or None,
            "actionPlanInstructions": control.action_plan_instructions or None,
            "controlMappingSources": [dict(s) for s in control.mapping_sources],
            "createdBy": "assay-library",
            "lastUpdatedBy": "assay-library",
            "state": "ACTIVE",
        }

    def _custom(self, row, region: str) -> dict[str, Any]:
        return {
            **self._custom_metadata(row, region),
            "type": "Custom",
            "description": row.description,
            "testingInformation": row.testing_information,
            "actionPlanTitle": row.action_plan_title,
            "actionPlanInstructions": row.action_plan_instructions,
            "controlMappingSources": row.mapping_sources,
            "createdBy": row.created_by,
            "lastUpdatedBy": row.updated_by,
            "state": "ACTIVE",
        }

    def _custom_metadata(self, row, region: str) -> dict[str, Any]:
        """ControlMetadata of a custom control's row (needs the _CUSTOM_METADATA columns)."""
        return {
            "arn": arns.arn(region, self.account_id, "control", row.id),
            "id": row.id,
            "name": row.name,
            "controlSources": control_sources(row.mapping_sources),
            "createdAt": row.created_at,
            "lastUpdatedAt": row.updated_at,
        }

    def _standard_metadata(self, control: StandardControl, region: str) -> dict[str, Any]:
        """ControlMetadata of a standard control: the members of ``_standard`` it shows."""
        return {
            "arn": arns.arn(region, self.account_id, "control", control.id),
            "id": control.id,
            "name": control.name,
            "controlSources": control.control_sources,
            "createdAt": LIBRARY_TIMESTAMP,
            "lastUpdatedAt": LIBRARY_TIMESTAMP,
        }

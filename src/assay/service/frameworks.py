"""Frameworks: control sets of standard and custom controls. Standard ones come from the library."""

from __future__ import annotations

import time
import uuid
from typing import Any

import sqlalchemy as sa

from ..library import LIBRARY_TIMESTAMP, Library, StandardFramework
from ..model.controls import SOURCE_DISPLAY_NAMES
from ..store import Store, tables
from . import arns, paging
from .auth import READ_LIBRARY, WRITE_LIBRARY, Caller
from .controls import ControlService, actor_name
from .errors import NotFoundError, ValidationError, refuse_duplicate
from .tagging import TagService


def _name_taken(name: str) -> str:
    return f"A framework named '{name}' already exists."


class FrameworkService:
    def __init__(self, store: Store, library: Library, account_id: str, tags: TagService,
                 controls: ControlService):
        self.store = store
        self.library = library
        self.account_id = account_id
        self.tags = tags
        self.controls = controls

    # -- reads ----------------------------------------------------------------------------

    def get(self, caller: Caller, framework_id: str) -> dict[str, Any]:
        caller.require(READ_LIBRARY)
        with self.store.read() as conn:
            return self.describe(conn, caller.region, framework_id)

    def describe(self, conn: sa.Connection, region: str, framework_id: str) -> dict[str, Any]:
        """The full Framework shape, with every control set's controls in full."""
        definition = self._definition(conn, framework_id)
        control_ids = [cid for s in definition["control_sets"] for cid in s["controls"]]
        controls = self.controls.describe_many(conn, region, control_ids)
        framework = {
            "arn": arns.arn(region, self.account_id, "assessmentFramework", framework_id),
            "id": framework_id,
            "name": definition["name"],
            "type": definition["type"],
            "complianceType": definition["compliance_type"] or None,
            "description": definition["description"] or None,
            "logo": definition["logo"],
            "controlSources": _union_sources(controls.values()),
            "controlSets": [
                {"id": s["id"], "name": s["name"],
                 "controls": [controls[cid] for cid in s["controls"] if cid in controls]}
                for s in definition["control_sets"]
            ],
            "createdAt": definition["created_at"],
            "lastUpdatedAt": definition["updated_at"],
            "createdBy": definition["created_by"],
            "lastUpdatedBy": definition["updated_by"],
            "tags": self.tags.read(conn, framework_id),
        }
        return framework

    def list(self, caller: Caller, framework_type: str, token: str | None,
             max_results: int | None) -> tuple[list[dict], str | None]:
        caller.require(READ_LIBRARY)
        if framework_type == "Standard":
            definitions = [self._standard(f) for f in self.library.frameworks.values()]
        else:
            with self.store.read() as conn:
                rows = conn.execute(
                    sa.select(tables.frameworks).order_by(tables.frameworks.c.name)).all()
            definitions = [self._custom(row) for row in rows]
        items = [self._metadata(d, caller.region) for d in definitions]
        return paging.page(items, token, max_results, f"frameworks:{framework_type}")

    def kind_of(self, conn: sa.Connection, framework_id: str) -> str | None:
        if framework_id in self.library.frameworks:
            return "standard"
        found = conn.execute(
            sa.select(tables.frameworks.c.id).where(tables.frameworks.c.id == framework_id)
        ).first()
        return "custom" if found else None

    # -- writes ---------------------------------------------------------------------------

    def create(self, caller: Caller, params: dict[str, Any],
               conn: sa.Connection | None = None) -> dict[str, Any]:
        """Create a custom framework (in ``conn``'s transaction when given)."""
        caller.require(WRITE_LIBRARY)
        framework_id = str(uuid.uuid4())
        now = time.time()
        with refuse_duplicate(tables.frameworks.c.name, "name", _name_taken(params["name"])), \
                self.store.write_in(conn) as conn:
            self._check_name_free(conn, params["name"])
            control_sets = self._control_sets(conn, params["controlSets"], {})
            conn.execute(tables.frameworks.insert().values(
                id=framework_id, name=params["name"], description=params.get("description"),
                compliance_type=params.get("complianceType"), control_sets=control_sets,
                created_at=now, updated_at=now,
                created_by=actor_name(caller), updated_by=actor_name(caller),
            ))
            self._index_controls(conn, framework_id, control_sets)
            self.tags.replace(conn, framework_id, params.get("tags") or {})
            return self.describe(conn, caller.region, framework_id)

    def update(self, caller: Caller, framework_id: str, params: dict[str, Any]) -> dict[str, Any]:
        caller.require(WRITE_LIBRARY)
        self._refuse_standard(framework_id)
        with refuse_duplicate(tables.frameworks.c.name, "name", _name_taken(params["name"])), \
                self.store.write() as conn:
            row = self._custom_row(conn, framework_id)
            if params["name"] != row.name:
                self._check_name_free(conn, params["name"])
            existing = {s["id"]: s for s in row.control_sets}
            existing.update({s["name"]: s for s in row.control_sets})
            control_sets = self._control_sets(conn, params["controlSets"], existing)
            conn.execute(tables.frameworks.update()
                         .where(tables.frameworks.c.id == framework_id).values(
                name=params["name"], description=params.get("description"),
                compliance_type=params.get("complianceType"), control_sets=control_sets,
                updated_at=time.time(), updated_by=actor_name(caller),
            ))
            self._index_controls(conn, framework_id, control_sets)
            return self.describe(conn, caller.region, framework_id)

    def delete(self, caller: Caller, framework_id: str) -> None:
        caller.require(WRITE_LIBRARY)
        self._refuse_standard(framework_id)
        with self.store.write() as conn:
            self._custom_row(conn, framework_id)
            conn.execute(tables.framework_controls.delete()
                         .where(tables.framework_controls.c.framework_id == framework_id))
            conn.execute(tables.frameworks.delete().where(tables.frameworks.c.id == framework_id))
            self.tags.replace(conn, framework_id, {})

    # -- helpers ----------------------------------------------------------------------------

    def _control_sets(self, conn: sa.Connection, requested: list[dict],
                      existing: dict[str, dict]) -> list[dict]:
        """Check every referenced control exists and set names are unique; keep the ids of
        control sets the caller names again (by id or name)."""
        problems: list[dict] = []
        names: set[str] = set()
        out = []
        for index, control_set in enumerate(requested):
            name = control_set["name"]
            if name in names:
                problems.append({"name": f"controlSets[{index}].name",
                                 "message": f"Control set name '{name}' is used twice."})
            names.add(name)
            control_ids: list[str] = []
            for position, control in enumerate(control_set.get("controls") or []):
                control_id = control["id"]
                if not self.controls.exists(conn, control_id):
                    problems.append({"name": f"controlSets[{index}].controls[{position}].id",
                                     "message": f"Control {control_id} does not exist."})
                elif control_id in control_ids:
                    problems.append({"name": f"controlSets[{index}].controls[{position}].id",
                                     "message": f"Control {control_id} is listed twice."})
                else:
                    control_ids.append(control_id)
            if not control_ids and not problems:
                problems.append({"name": f"controlSets[{index}].controls",
                                 "message": "A control set needs at least one control."})
            previous = existing.get(control_set.get("id") or "") or existing.get(name)
            out.append({"id": previous["id"] if previous else str(uuid.uuid4()), "name": name,
                        "controls": control_ids})
        if problems:
            raise ValidationError.for_fields(problems)
        return out

    def _index_controls(self, conn: sa.Connection, framework_id: str, sets: list[dict]) -> None:
        conn.execute(tables.framework_controls.delete()
                     .where(tables.framework_controls.c.framework_id == framework_id))
        ids = sorted({cid for s in sets for cid in s["controls"]})
        if ids:
            conn.execute(tables.framework_controls.insert(),
                         [{"framework_id": framework_id, "control_id": cid} for cid in ids])

    def _definition(self, conn: sa.Connection, framework_id: str) -> dict[str, Any]:
        standard = self.library.frameworks.get(framework_id)
        if standard is not None:
            return self._standard(standard)
        return self._custom(self._custom_row(conn, framework_id))

    def _custom_row(self, conn: sa.Connection, framework_id: str):
        row = conn.execute(
            sa.select(tables.frameworks).where(tables.frameworks.c.id == framework_id)
        ).first()
        if row is None:
            raise NotFoundError("assessmentFramework", framework_id)
        return row

    def _refuse_standard(self, framework_id: str) -> None:
        if framework_id in self.library.frameworks:
            raise ValidationError.field(
                "frameworkId", "Standard frameworks are read-only; create a custom framework "
                               "from its controls instead.")

    def _check_name_free(self, conn: sa.Connection, name: str) -> None:
        taken = conn.execute(
            sa.select(tables.frameworks.c.id).where(tables.frameworks.c.name == name)
        ).first()
        if taken or any(f.name == name for f in self.library.frameworks.values()):
            raise ValidationError.field("name", _name_taken(name))

    def _standard(self, framework: StandardFramework) -> dict[str, Any]:
        return {
            "id": framework.id, "type": "Standard", "name": framework.name,
            "description": framework.description, "compliance_type": framework.compliance_type,
            "logo": None,
            "control_sets": [{"id": s.id, "name": s.name, "controls": list(s.control_ids)}
                             for s in framework.control_sets],
            "created_at": LIBRARY_TIMESTAMP, "updated_at": LIBRARY_TIMESTAMP,
            "created_by": "assay-library", "updated_by": "assay-library",
        }

    @staticmethod
    def _custom(row) -> dict[str, Any]:
        return {
            "id": row.id, "type": "Custom", "name": row.name, "description": row.description,
            "compliance_type": row.compliance_type, "logo": row.logo,
            "control_sets": row.control_sets,
            "created_at": row.created_at, "updated_at": row.updated_at,
            "created_by": row.created_by, "updated_by": row.updated_by,
        }

    def _metadata(self, definition: dict[str, Any], region: str) -> dict[str, Any]:
        return {
            "arn": arns.arn(region, self.account_id, "assessmentFramework", definition["id"]),
            "id": definition["id"],
            "type": definition["type"],
            "name": definition["name"],
            "description": definition["description"] or None,
            "logo": definition["logo"],
            "complianceType": definition["compliance_type"] or None,
            "controlsCount": sum(len(s["controls"]) for s in definition["control_sets"]),
            "controlSetsCount": len(definition["control_sets"]),
            "createdAt": definition["created_at"],
            "lastUpdatedAt": definition["updated_at"],
        }


def _union_sources(controls) -> str | None:
    order = list(SOURCE_DISPLAY_NAMES.values())
    present = {name.strip() for c in controls for name in (c.get("controlSources") or "").split(",")}
    joined = ", ".join(name for name in order if name in present)
    return joined or None

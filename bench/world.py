"""What the benchmarks seed through the service layer: an admin key, custom controls mapped
to an AWS Config rule, and an assessment over them."""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import Iterator

# The PostgreSQL server benchmarks make their scratch databases on.
PG_URL = os.environ.get("ASSAY_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def scratch_database(backend: str, home: Path) -> Iterator[str]:
    """The database URL of one benchmark run: SQLite's file in ``home``, or a new PostgreSQL
    database on ``PG_URL``'s server (a plain ``postgresql://`` URL), dropped afterwards even if
    the run fails or holds connections."""
    if backend == "sqlite":
        yield f"sqlite:///{home / 'assay.db'}"
        return
    import psycopg

    name = f"assay_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

# A mapping source that collects evidence (AWS Config's IAM password policy rule).
CONFIG_MAPPING = [{"sourceName": "rule", "sourceType": "AWS_Config",
                   "sourceSetUpOption": "System_Controls_Mapping",
                   "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST",
                                     "keywordValue": "IAM_PASSWORD_POLICY"}}]


def admin(services):
    """A new admin key named ``bench`` and its caller (us-east-1)."""
    key = services.keys.create("bench", "admin")
    return key, services.keys.caller(key.key, "us-east-1")


def controls(services, caller, names: list[str], **members) -> list[str]:
    """Custom controls of these names (with ``members`` added), mapped to CONFIG_MAPPING."""
    return [services.controls.create(caller, {
        "name": name, "description": "Passwords are strong.",
        "controlMappingSources": CONFIG_MAPPING, **members})["id"] for name in names]


def assessment(services, caller, control_sets: dict[str, list[str]]) -> str:
    """The id of an assessment of a new framework with these control sets (name -> control
    ids), one account in scope, the caller its process owner."""
    framework = services.frameworks.create(caller, {"name": "bench framework", "controlSets": [
        {"name": name, "controls": [{"id": c} for c in ids]}
        for name, ids in control_sets.items()]})
    return services.assessments.create(caller, {
        "name": "bench assessment", "frameworkId": framework["id"],
        "scope": {"awsAccounts": [{"id": "111122223333"}]},
        "roles": [{"roleType": "PROCESS_OWNER", "roleArn": caller.arn}],
        "assessmentReportsDestination": {}})["assessment"]["metadata"]["id"]

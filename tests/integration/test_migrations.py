"""The Alembic migrations build exactly the schema the code's tables describe, on both backends."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from support import backends, database_url

from assay.store import Store, alembic_config, tables
from assay.store.migrations.versions import HEAD


@pytest.mark.parametrize("backend", backends())
def test_migrations_match_the_tables(backend, tmp_path):
    url, database = database_url(backend, tmp_path)
    store = Store(url)
    try:
        store.migrate()
        store.migrate()  # idempotent
        assert store.revision() == HEAD
        with store.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), tables.metadata)
        assert differences == []
    finally:
        store.dispose()
        if database is not None:
            database.drop()


def test_the_recorded_head_is_alembics_head():
    """Opening a store compares the schema with ``HEAD`` instead of scanning the revisions:
    a new migration must move it."""
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(alembic_config()).get_heads() == [HEAD]

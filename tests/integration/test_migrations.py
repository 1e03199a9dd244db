"""The Alembic migrations build exactly the schema the code's tables describe, on both backends."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from support import backends, database_url

from assay.store import Store, tables


@pytest.mark.parametrize("backend", backends())
def test_migrations_match_the_tables(backend, tmp_path):
    url, database = database_url(backend, tmp_path)
    store = Store(url)
    try:
        store.migrate()
        store.migrate()  # idempotent
        with store.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), tables.metadata)
        assert differences == []
    finally:
        store.dispose()
        if database is not None:
            database.drop()

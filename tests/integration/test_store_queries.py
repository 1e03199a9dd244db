"""``store.Query``: the hot reads (a control by id, a resource's tags, a page of custom
controls) run on the DB-API cursor, compiled once per dialect. They must return what the same
statement returns through SQLAlchemy, on both backends, and fail the way it fails."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from support import backends, database_url

from assay.service import access_cache
from assay.service import controls as control_service
from assay.service import paging, tagging
from assay.store import Query, Store, tables


@pytest.fixture(params=backends())
def store(request, tmp_path):
    db_url, database = database_url(request.param, tmp_path / "home")
    store = Store(db_url)
    store.migrate()
    with store.write() as conn:
        conn.execute(tables.controls.insert(), [{
            "id": f"c{i:03d}", "name": name, "description": None if i % 2 else "d\u00e9j\u00e0",
            "testing_information": "t", "action_plan_title": None,
            "action_plan_instructions": "i",
            "mapping_sources": [{"sourceId": f"s{i}", "sourceType": "MANUAL",
                                 "sourceSetUpOption": "Procedural_Controls_Mapping",
                                 "sourceName": "n", "nested": {"list": [1, 2.5, None]}}],
            "created_at": 1700000000.125 + i, "updated_at": 1700000001.5 + i,
            "created_by": "me", "updated_by": "you",
        } for i, name in enumerate(["b \u00fcber", "a", "c'quote", "A", "%(id)s ?"])])
        conn.execute(tables.tags.insert(), [
            {"resource_id": "c001", "key": "k1", "value": "v1"},
            {"resource_id": "c001", "key": "k0", "value": "\u2603"},
            {"resource_id": "c002", "key": "k", "value": "v"},
        ])
    yield store
    store.dispose()
    if database is not None:
        database.drop()


def through_sqlalchemy(conn, query: Query, params: dict) -> list[tuple]:
    return [tuple(row) for row in conn.execute(query.statement, params).all()]


def test_control_by_id_equals_sqlalchemy(store):
    query = control_service._BY_ID
    with store.read() as conn:
        for control_id in ("c000", "c001", "c004"):
            row = query.first(conn, id=control_id)
            expected = conn.execute(query.statement, {"id": control_id}).first()
            assert tuple(row) == tuple(expected)
            assert row._asdict() == dict(expected._mapping)
            assert isinstance(row.mapping_sources, list)  # JSON parsed on both backends
        assert query.first(conn, id="missing") is None
        assert query.all(conn, id="missing") == []


def test_tags_equal_sqlalchemy(store):
    query = tagging._TAGS_OF
    with store.read() as conn:
        for resource in ("c001", "c002", "none"):
            params = {"resource_id": resource}
            assert [tuple(r) for r in query.all(conn, **params)] == \
                through_sqlalchemy(conn, query, params)
    services_tags = tagging.TagService(store)
    with store.read() as conn:
        assert services_tags.read(conn, "c001") == {"k0": "\u2603", "k1": "v1"}


@pytest.mark.parametrize("size", [1, 2, 100])
def test_pages_equal_sqlalchemy(store, size):
    query = control_service._CUSTOM_METADATA
    plain = sa.select(*query.statement.selected_columns).order_by(
        tables.controls.c.name, tables.controls.c.id)
    token, raw_rows = None, []
    with store.read() as conn:
        while True:
            rows, token = paging.page_query(conn, query, token, size, "scope")
            raw_rows += [tuple(r) for r in rows]
            if token is None:
                break
        assert raw_rows == [tuple(r) for r in conn.execute(plain).all()]
        assert len(raw_rows) == 5


def test_literal_values_kept(store):
    # A literal in the statement is an anonymous parameter that keeps its value.
    query = Query(sa.select(tables.controls.c.name).where(tables.controls.c.id == "c003"))
    with store.read() as conn:
        assert query.all(conn) == [("A",)]
        version = access_cache._VERSION.first(conn)
        assert tuple(version) == tuple(conn.execute(access_cache._VERSION.statement).first())


def test_outside_a_transaction(store):
    # As conn.execute would, the statement begins the connection's transaction itself.
    with store.engine.connect() as conn:
        assert control_service._BY_ID.first(conn, id="c003").name == "A"
        assert conn.in_transaction()


def test_driver_errors_are_sqlalchemys(store):
    broken = Query(sa.select(sa.column("nope")).select_from(sa.table("no_such_table")))
    with store.engine.connect() as conn:
        with pytest.raises(sa.exc.DBAPIError) as ours:
            broken.all(conn)
    with store.engine.connect() as conn:
        with pytest.raises(sa.exc.DBAPIError) as theirs:
            conn.execute(broken.statement)
    assert type(ours.value) is type(theirs.value)
    assert type(ours.value.orig) is type(theirs.value.orig)


def test_missing_parameter_refused(store):
    with store.read() as conn, pytest.raises(KeyError):
        control_service._BY_ID.first(conn)


def test_expanding_parameters_refused(store):
    query = Query(sa.select(tables.tags.c.key).where(
        tables.tags.c.resource_id.in_(sa.bindparam("ids", expanding=True))))
    with store.read() as conn, pytest.raises(ValueError, match="ids"):
        query.all(conn, ids=["c001"])

"""The evidence finder's query checker and rewriter, without a database: every reference to the
store becomes the rights-filtered subquery, whatever the shape of the query; positions in
errors are the user's own; the console's filter sets compile."""

from __future__ import annotations

import pytest

from assay.finder.filters import SORTS, Filters, to_sql
from assay.finder.query import Limits, QueryError, Rights, compile_query

ARN = "arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/0b8f7a52-7d0e-4c0a-9a3f-3c1f0f6b2e11"
DELEGATE = "arn:aws:iam::123456789012:role/dan"


@pytest.mark.parametrize("sql,references", [
    ("SELECT * FROM evidence", 1),
    ("SELECT a.eventID FROM evidence a JOIN evidence b ON a.eventID = b.eventID", 2),
    ("SELECT eventID FROM evidence WHERE eventID IN (SELECT eventID FROM evidence)", 2),
    ("SELECT eventID FROM evidence UNION ALL SELECT eventID FROM evidence "
     "UNION SELECT eventID FROM evidence", 3),
    ("WITH c AS (SELECT * FROM evidence) SELECT count(*) FROM c JOIN evidence e "
     "ON c.eventData.evidenceId = e.eventData.evidenceId", 2),
    ("SELECT count(*) FROM (SELECT * FROM (SELECT * FROM evidence) x) y", 1),
    (f"SELECT * FROM {ARN.rsplit('/', 1)[1]}", 1),
    (f'SELECT * FROM "{ARN}"', 1),
])
@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_every_store_reference_carries_the_rights(sql, references, dialect):
    compiled = compile_query(sql, ARN, Rights(delegate_arn=DELEGATE), dialect)
    assert compiled.sql.count("FROM evidence_finder AS f") == references
    assert compiled.sql.count(f"role_arn = '{DELEGATE}'") == references
    assert compiled.sql.count("deleted_at IS NULL") == references


def test_only_the_rights_subquery_names_tables():
    with pytest.raises(QueryError, match="Unknown table delegations"):
        compile_query("SELECT * FROM evidence, delegations", ARN, Rights(), "sqlite")


def test_positions_are_the_users_own_after_the_store_id():
    sql = f"SELECT eventID\nFROM {ARN.rsplit('/', 1)[1]} WHERE oops = 1"
    with pytest.raises(QueryError) as caught:
        compile_query(sql, ARN, Rights(), "sqlite")
    assert (caught.value.line, caught.value.column) == (2, sql.split("\n")[1].index("oops") + 1)


def test_schema_names_are_case_insensitive_and_headers_are_awss():
    compiled = compile_query("SELECT EVENTDATA.CONTROLID, eventtime FROM evidence", ARN, Rights(),
                             "sqlite")
    assert compiled.columns == ["controlId", "eventTime"]
    assert compiled.names == ["control_id", "event_time"]


def test_the_row_limit_is_asked_for_plus_one():
    compiled = compile_query("SELECT * FROM evidence", ARN, Rights(), "sqlite", Limits(max_rows=10))
    assert compiled.sql.endswith("LIMIT 11") and compiled.max_rows == 10


@pytest.mark.parametrize("sort", list(SORTS))
def test_every_filter_set_compiles(sort):
    filters = Filters(since="2026-11-01", until="2026-11-30", account="111122223333",
                      region="us-east-1", control_name="1.5 MFA", control_domain="Data protection",
                      data_source="AWS Config", result="inconclusive",
                      resource_arn="arn:aws:s3:::o'brien", event_name="IAM.9")
    compiled = compile_query(to_sql(filters, sort, 51, 50), ARN, Rights(), "postgres")
    assert "'arn:aws:s3:::o''brien'" in compiled.sql
    assert compiled.columns[:2] == ["eventTime", "complianceCheck"]


def test_filter_values_are_checked():
    assert [name for name, _ in Filters(since="30/11/2026", result="maybe").problems()] == \
        ["since", "result"]

"""The evidence finder through the interfaces people use: settings through boto3 and the `aws`
CLI, queries through `assay evidence query`, reports from a query through boto3 and the `aws`
CLI. Every answer is compared with rows counted from the seeded evidence."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
import zipfile
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import httpx
import openpyxl
import orjson
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from support import run, walk
from typer.testing import CliRunner

from assay import cli

from assay.reports.verify import verify_report
from assay.service.finder import build_finder_index
from assay.service.ledger import EvidenceDraft, day_of

BIN = Path(sys.executable).parent
ASSAY, AWS = str(BIN / "assay"), str(BIN / "aws")
ACCOUNTS = ("111111111111", "222222222222")
RESULTS = ("NON_COMPLIANT", "COMPLIANT", "FAILED", "PASSED", None, "NOT_APPLICABLE")
SOURCES = ("AWS Config", "AWS Security Hub", "AWS CloudTrail")
FAILED = {"NON_COMPLIANT", "FAILED"}
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def _evidence(assessment_id, control_set, control_id, i, account_id):
    """One seeded evidence item (a dict the tests count from) and its draft."""
    when = NOW - timedelta(days=i % 10, minutes=i)
    result = RESULTS[i % len(RESULTS)]
    resources = [f"arn:aws:s3:::bucket-{i % 7}"] + ([f"arn:aws:iam::{account_id}:user/u{i}"]
                                                    if i % 3 == 0 else [])
    record = {"dataSource": SOURCES[i % 3], "eventSource": "config.amazonaws.com",
              "eventName": f"RULE_{i % 4}", "evidenceByType": "Compliance check",
              "complianceCheck": result, "time": when.timestamp(),
              "evidenceAwsAccountId": account_id, "awsAccountId": "999999999999",
              "resourcesIncluded": [{"arn": a, "complianceCheck": result} for a in resources],
              "sourceType": "AWS_Config", "region": "us-east-1", "payload": {"i": i}}
    draft = EvidenceDraft(assessment_id, control_set, control_id, day_of(when.timestamp()),
                          f"item-{i}", record)
    return {"id": draft.evidence_id, "assessment": assessment_id, "set": control_set,
            "control": control_id, "account": account_id, "time": when, "result": result,
            "source": record["dataSource"], "resources": resources}, draft


@pytest.fixture(scope="module")
def seeded(server, tmp_path_factory):
    """Two live assessments and one deleted, a delegate of one control set, 90 evidence items
    (half appended before the finder is enabled, half after), and the settings' states."""
    services = server.services
    admin = server.client()
    owner_id = server.identity("process-owner", "finder-owner")
    delegate_id = server.identity("delegate", "finder-delegate")
    auditor_id = server.identity("auditor", "finder-auditor")
    owner = server.client(owner_id)
    library = services.library
    picked, domains = [], set()
    for control in library.controls.values():
        if control.domain_id not in domains and control.domain_id in library.domains:
            picked.append(control)
            domains.add(control.domain_id)
        if len(picked) == 3:
            break
    framework = admin.create_assessment_framework(name=f"finder {time.time_ns()}", controlSets=[
        {"name": "Identity", "controls": [{"id": picked[0].id}, {"id": picked[1].id}]},
        {"name": "Logging", "controls": [{"id": picked[2].id}]}])["framework"]
    ids = []
    for n in range(3):
        ids.append(owner.create_assessment(
            name=f"finder-{n}", frameworkId=framework["id"],
            scope={"awsAccounts": [{"id": a} for a in ACCOUNTS]},
            roles=[{"roleType": "PROCESS_OWNER", "roleArn": owner_id.arn}],
            assessmentReportsDestination={})["assessment"]["metadata"]["id"])
    owner.batch_create_delegation_by_assessment(assessmentId=ids[0], createDelegationRequests=[
        {"controlSetId": "Logging", "roleArn": delegate_id.arn, "roleType": "RESOURCE_OWNER"}])
    slots = [("Identity", picked[0].id), ("Identity", picked[1].id), ("Logging", picked[2].id)]
    items, drafts = [], []
    for i in range(90):
        control_set, control_id = slots[i % 3]
        item, draft = _evidence(ids[i % 3 if i % 5 else 0], control_set, control_id, i,
                                ACCOUNTS[(i // 3) % 2])
        item["domain"] = library.domains[library.controls[control_id].domain_id].name
        items.append(item)
        drafts.append(draft)

    # Disabled: a report from a query is refused, naming the setting.
    with pytest.raises(ClientError) as caught:
        owner.create_assessment_report(assessmentId=ids[0], name="too-early",
                                       queryStatement="SELECT * FROM evidence")
    assert "evidenceFinderEnablement" in caught.value.response["Error"]["Message"]
    states = [admin.get_settings(attribute="EVIDENCE_FINDER_ENABLEMENT")["settings"]
              ["evidenceFinderEnablement"]]
    with services.store.write() as conn:
        services.ledger.append(conn, drafts[:45], author="assay")

    # Enable: the build is held back to watch its states, then run as the launcher would.
    launched = []
    services.finder.launcher = lambda: launched.append(True)
    states.append(admin.update_settings(evidenceFinderEnabled=True)["settings"]
                  ["evidenceFinderEnablement"])
    assert launched == [True]
    states.append(admin.get_settings(attribute="ALL")["settings"]["evidenceFinderEnablement"])
    seen = []
    build_finder_index(services, progress=lambda done, mark: seen.append(
        (done, mark, admin.get_settings(attribute="EVIDENCE_FINDER_ENABLEMENT")["settings"]
         ["evidenceFinderEnablement"])))
    states.append(admin.get_settings(attribute="ALL")["settings"]["evidenceFinderEnablement"])
    services.finder.launcher = services.finder._build_in_thread
    with services.store.write() as conn:  # indexed as appended
        services.ledger.append(conn, drafts[45:], author="assay")
    owner.delete_assessment(assessmentId=ids[2])
    env = {"ASSAY_DB_URL": services.settings.database_url,
           "ASSAY_ACCOUNT_ID": services.account_id}
    return {"ids": ids, "items": items, "states": states, "progress": seen, "owner": owner_id,
            "delegate": delegate_id, "auditor": auditor_id, "env": env, "domains":
            {item["domain"] for item in items}}


def visible(seeded, who="admin"):
    """Evidence a role may read: not of the deleted assessment; a delegate only its set."""
    ids = seeded["ids"]
    out = [i for i in seeded["items"] if i["assessment"] != ids[2]]
    if who == "delegate":
        out = [i for i in out if i["assessment"] == ids[0] and i["set"] == "Logging"]
    return out


def query(server, seeded, sql, *extra, check=True, env=None, spawn=False):
    """`assay evidence query`: in a process of its own (``spawn``), or in this one through
    typer's runner (the same command, without a process start per query)."""
    args = ["evidence", "query", sql, "--home", str(server.home), *extra]
    env = {**seeded["env"], **(env or {})}
    if spawn:
        return run(ASSAY, *args, env=env, check=check)
    done = CliRunner().invoke(cli.app, args, env=env)
    if done.exception and not isinstance(done.exception, SystemExit):
        raise done.exception
    if check:
        assert done.exit_code == 0, done.stderr
    return subprocess.CompletedProcess(args, done.exit_code, done.stdout, done.stderr)


def query_json(server, seeded, sql, *extra, **kwargs) -> list[dict]:
    return json.loads(query(server, seeded, sql, "--format", "json", *extra, **kwargs).stdout)


def ts(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S")


# -- settings ------------------------------------------------------------------------------

def test_settings_walk_through_their_states(server, seeded):
    disabled, enabling, still, done = seeded["states"]
    assert disabled == {"enablementStatus": "DISABLED"}
    arn = enabling["eventDataStoreArn"]
    assert arn.startswith(f"arn:aws:cloudtrail:us-east-1:{server.services.account_id}:"
                          "eventdatastore/")
    assert enabling == {"eventDataStoreArn": arn, "enablementStatus": "ENABLE_IN_PROGRESS",
                        "backfillStatus": "NOT_STARTED"}
    assert still == enabling
    assert seeded["progress"], "the build reports progress"
    for done_seq, mark, state in seeded["progress"]:
        assert state["backfillStatus"] == "IN_PROGRESS"
        assert state["enablementStatus"] == "ENABLE_IN_PROGRESS"
        assert done_seq <= mark
    assert done == {"eventDataStoreArn": arn, "enablementStatus": "ENABLED",
                    "backfillStatus": "COMPLETED"}


def test_disable_and_enable_again_through_the_aws_cli(server, seeded, tmp_path):
    env = {"AWS_ACCESS_KEY_ID": server.admin.key_id,
           "AWS_SECRET_ACCESS_KEY": server.admin.secret, "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE":
           str(tmp_path / "none")}
    base = [AWS, "--endpoint-url", server.url, "auditmanager"]
    off = json.loads(run(*base, "update-settings", "--no-evidence-finder-enabled", env=env)
                     .stdout)["settings"]["evidenceFinderEnablement"]
    assert off["enablementStatus"] == "DISABLED"
    refused = query(server, seeded, "SELECT count(*) FROM evidence", check=False)
    assert refused.returncode == 1 and "evidenceFinderEnablement" in refused.stderr
    on = json.loads(run(*base, "update-settings", "--evidence-finder-enabled", env=env)
                    .stdout)["settings"]["evidenceFinderEnablement"]
    assert on["enablementStatus"] in ("ENABLE_IN_PROGRESS", "ENABLED")
    server.services.finder.wait(60)
    final = json.loads(run(*base, "get-settings", "--attribute", "EVIDENCE_FINDER_ENABLEMENT",
                           env=env).stdout)["settings"]["evidenceFinderEnablement"]
    assert final["enablementStatus"] == "ENABLED" and final["backfillStatus"] == "COMPLETED"
    rows = query_json(server, seeded, "SELECT count(DISTINCT eventData.evidenceId) AS n "
                                      "FROM evidence")
    assert rows == [{"n": len(visible(seeded))}]


# -- queries through `assay evidence query` --------------------------------------------------

def test_by_assessment_account_date_result_source_and_resource(server, seeded):
    ids, items = seeded["ids"], visible(seeded)

    def ids_of(where: str) -> set[str]:
        rows = query_json(server, seeded, "SELECT DISTINCT eventData.evidenceId FROM evidence "
                                          f"WHERE {where}")
        return {r["evidenceId"] for r in rows}

    assert ids_of(f"eventData.assessmentId = '{ids[1]}'") == \
        {i["id"] for i in items if i["assessment"] == ids[1]}
    assert ids_of(f"eventData.evidenceAwsAccountId = '{ACCOUNTS[1]}'") == \
        {i["id"] for i in items if i["account"] == ACCOUNTS[1]}
    start, end = NOW - timedelta(days=5), NOW - timedelta(days=2)
    assert ids_of(f"eventTime >= TIMESTAMP '{ts(start)}' AND eventTime < TIMESTAMP '{ts(end)}'") \
        == {i["id"] for i in items if start <= i["time"] < end}
    assert ids_of("eventData.complianceCheck IN ('FAILED', 'NON_COMPLIANT')") == \
        {i["id"] for i in items if i["result"] in FAILED}
    assert ids_of("eventData.dataSource = 'AWS Security Hub'") == \
        {i["id"] for i in items if i["source"] == "AWS Security Hub"}
    arn = "arn:aws:s3:::bucket-3"
    assert ids_of(f"eventData.resourceArn = '{arn}'") == \
        {i["id"] for i in items if arn in i["resources"]}


def test_one_row_per_resource_and_counts_by_control_domain(server, seeded):
    items = visible(seeded)
    total = query_json(server, seeded, "SELECT count(*) AS n FROM evidence")
    assert total == [{"n": sum(len(i["resources"]) for i in items)}]
    rows = query_json(server, seeded,
                      "SELECT eventData.controlDomainName AS domain, "
                      "count(DISTINCT eventData.evidenceId) AS n FROM evidence "
                      "GROUP BY eventData.controlDomainName ORDER BY domain")
    expected = {}
    for item in items:
        expected[item["domain"]] = expected.get(item["domain"], 0) + 1
    assert {r["domain"]: r["n"] for r in rows} == expected and len(expected) == 3


def test_formats_table_csv_xlsx_and_the_store_arn(server, seeded, tmp_path):
    arn = seeded["states"][-1]["eventDataStoreArn"]
    failed = [i for i in visible(seeded) if i["result"] in FAILED]
    sql = ("SELECT eventData.evidenceId, eventData.complianceCheck, eventTime FROM "
           f"{arn.rsplit('/', 1)[1]} WHERE eventData.complianceCheck IN ('FAILED', "
           "'NON_COMPLIANT') AND eventData.resourceArn LIKE 'arn:aws:s3:::%' ORDER BY eventTime")
    table = query(server, seeded, sql, spawn=True).stdout
    assert table.count("NON_COMPLIANT") + table.count("FAILED") == len(failed)
    assert "evidenceId" in table and "complianceCheck" in table
    rows = list(csv.reader(io.StringIO(query(server, seeded, sql.replace(
        arn.rsplit("/", 1)[1], f'"{arn}"'), "--format", "csv").stdout)))
    assert rows[0] == ["evidenceId", "complianceCheck", "eventTime"]
    assert {r[0] for r in rows[1:]} == {i["id"] for i in failed} and len(rows) == len(failed) + 1
    assert [r[2] for r in rows[1:]] == sorted(r[2] for r in rows[1:])
    book = tmp_path / "failed.xlsx"
    query(server, seeded, sql, "--format", "xlsx", "--output", str(book), spawn=True)
    sheet = openpyxl.load_workbook(book).active
    values = list(sheet.values)
    assert values[0] == ("evidenceId", "complianceCheck", "eventTime")
    assert {v[0] for v in values[1:]} == {i["id"] for i in failed}


# -- bad queries ---------------------------------------------------------------------------

BAD = [
    ("SELECT * FROM evidence WHERE (eventTime = ", "Syntax error", "line 1, column"),
    ("SELECT *\nFROM evidence\nWHERE eventData.controlId = = 'x'", "Syntax error", "line 3"),
    ("INSERT INTO evidence VALUES (1)", "not INSERT", "line 1, column 1"),
    ("DELETE FROM evidence", "not DELETE", "line 1, column 1"),
    ("DROP TABLE evidence", "not DROP", "line 1, column 1"),
    ("ATTACH DATABASE 'x.db' AS x", "not ATTACH", "line 1, column 1"),
    ("PRAGMA table_info(evidence)", "not PRAGMA", "line 1, column 1"),
    ("SELECT 1 FROM evidence; DELETE FROM evidence", "Only one statement", "line 1, column 25"),
    ("SELECT eventData.nope FROM evidence", "Unknown column eventData.nope",
     "line 1, column 8"),
    ("SELECT *\n  FROM evidence WHERE colour = 'red'", "Unknown column colour", "line 2, column 23"),
    ("SELECT * FROM evidence LIMIT 100000000", "row limit", "line 1, column 24"),
    ("SELECT load_extension('evil') FROM evidence", "load_extension is not allowed",
     "line 1, column 8"),
    ("SELECT * FROM sqlite_master", "Unknown table sqlite_master", "line 1, column 15"),
    ("SELECT * FROM evidence e JOIN access_keys k ON 1 = 1", "Unknown table access_keys", ""),
    ("SELECT eventID FROM evidence FOR UPDATE", "FOR UPDATE is not allowed", "line 1"),
]


@pytest.mark.parametrize("sql,what,where", BAD)
def test_bad_queries_get_a_validation_exception(server, seeded, sql, what, where):
    owner = server.client(seeded["owner"])
    with pytest.raises(ClientError) as caught:
        owner.create_assessment_report(assessmentId=seeded["ids"][0], name="bad",
                                       queryStatement=sql)
    error = caught.value.response
    assert error["Error"]["Code"] == "ValidationException"
    assert error["fields"][0]["name"] == "queryStatement"
    assert what in error["Error"]["Message"] and where in error["Error"]["Message"], error


def test_bad_query_on_the_command_line_changes_nothing(server, seeded):
    done = query(server, seeded, "DELETE FROM evidence", check=False, spawn=True)
    assert done.returncode == 1 and "not DELETE" in done.stderr
    assert query_json(server, seeded, "SELECT count(DISTINCT eventData.evidenceId) AS n "
                                      "FROM evidence") == [{"n": len(visible(seeded))}]


def test_row_and_time_limits(server, seeded):
    over = query(server, seeded, "SELECT eventID FROM evidence", check=False,
                 env={"ASSAY_FINDER_MAX_ROWS": "5"})
    assert over.returncode == 1 and "Stopped at 5 rows" in over.stderr
    limited = query(server, seeded, "SELECT eventID FROM evidence LIMIT 6", check=False,
                    env={"ASSAY_FINDER_MAX_ROWS": "5"})
    assert limited.returncode == 1 and "LIMIT 6 is past" in limited.stderr
    slow = query(server, seeded, "SELECT count(*) FROM evidence a, evidence b, evidence c, "
                                 "evidence d", check=False, env={"ASSAY_FINDER_SECONDS": "0.05"},
                 spawn=True)
    assert slow.returncode == 1 and "time limit of 0.05 seconds" in slow.stderr


# -- rights --------------------------------------------------------------------------------

SNEAKY = [
    "SELECT DISTINCT eventData.evidenceId FROM evidence",
    "SELECT DISTINCT a.eventData.evidenceId FROM evidence a JOIN evidence b "
    "ON a.eventData.evidenceId <> b.eventData.evidenceId",
    "SELECT DISTINCT eventData.evidenceId FROM evidence WHERE eventData.evidenceId IN "
    "(SELECT eventData.evidenceId FROM evidence WHERE eventData.controlSetId = 'Identity')"
    " OR 1 = 1",
    "SELECT eventData.evidenceId FROM evidence WHERE eventData.controlSetId = 'Identity' "
    "UNION SELECT eventData.evidenceId FROM evidence",
    "WITH everything AS (SELECT * FROM evidence) SELECT DISTINCT eventData.evidenceId "
    "FROM everything",
    "SELECT DISTINCT x.evidenceId FROM (SELECT eventData.evidenceId AS evidenceId FROM "
    "evidence) x",
]


@pytest.mark.parametrize("sql", SNEAKY)
def test_rights_hold_through_joins_subqueries_and_union(server, seeded, sql):
    mine = {i["id"] for i in visible(seeded, "delegate")}
    rows = query_json(server, seeded, sql, "--as", seeded["delegate"].arn)
    got = {next(iter(r.values())) for r in rows}
    assert got == mine and mine
    rows = query_json(server, seeded, sql, "--as", seeded["auditor"].arn)
    assert {next(iter(r.values())) for r in rows} == {i["id"] for i in visible(seeded)}


def test_rights_hold_for_counts(server, seeded):
    rows = query_json(server, seeded, "SELECT eventData.assessmentId AS a, count(DISTINCT "
                                      "eventData.evidenceId) AS n FROM evidence GROUP BY 1",
                      "--as", seeded["delegate"].arn)
    assert rows == [{"a": seeded["ids"][0], "n": len(visible(seeded, "delegate"))}]


# -- reports from a query ------------------------------------------------------------------

def _report(server, seeded, owner, **params):
    report = owner.create_assessment_report(assessmentId=seeded["ids"][0], **params)[
        "assessmentReport"]
    deadline = time.time() + 120
    while time.time() < deadline:
        found = [r for r in walk(owner.list_assessment_reports, "assessmentReports")
                 if r["id"] == report["id"] and r["status"] != "IN_PROGRESS"]
        if found:
            break
        time.sleep(0.1)
    record = next(r for r in server.services.reports.records() if r["id"] == report["id"])
    assert record["status"] == "COMPLETE", record
    return report, record


def _evidence_ids_in(server, seeded, owner, report) -> set[str]:
    url = owner.get_assessment_report_url(assessmentId=seeded["ids"][0],
                                          assessmentReportId=report["id"])["preSignedUrl"]
    content = httpx.get(url["link"]).content
    assert verify_report(io.BytesIO(content), server.services.signer.public_key).valid
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {orjson.loads(archive.read(n))["id"] for n in archive.namelist()
                if "/evidence/" in n and n.endswith(".json")}


def test_report_of_exactly_the_querys_evidence(server, seeded):
    owner = server.client(seeded["owner"])
    aid = seeded["ids"][0]
    arn = seeded["states"][-1]["eventDataStoreArn"]
    expected = {i["id"] for i in visible(seeded) if i["assessment"] == aid
                and i["result"] in FAILED and i["account"] == ACCOUNTS[0]}
    # The query names every assessment; the report holds only its own assessment's evidence.
    report, record = _report(server, seeded, owner, name="failed-in-prod", queryStatement=(
        f"SELECT * FROM {arn.rsplit('/', 1)[1]} WHERE eventData.complianceCheck IN "
        f"('FAILED', 'NON_COMPLIANT') AND eventData.evidenceAwsAccountId = '{ACCOUNTS[0]}'"))
    assert record["evidenceCount"] == len(expected) and expected
    assert _evidence_ids_in(server, seeded, owner, report) == expected


def test_report_query_through_the_aws_cli_and_its_rules(server, seeded, tmp_path):
    identity = seeded["owner"]
    env = {"AWS_ACCESS_KEY_ID": identity.key_id, "AWS_SECRET_ACCESS_KEY": identity.secret,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    aid = seeded["ids"][0]
    start = NOW - timedelta(days=3)
    expected = {i["id"] for i in visible(seeded) if i["assessment"] == aid
                and i["time"] >= start and i["source"] == "AWS Config"}
    created = json.loads(run(
        AWS, "--endpoint-url", server.url, "auditmanager", "create-assessment-report",
        "--assessment-id", aid, "--name", "recent-config", "--query-statement",
        f"SELECT eventData.evidenceId FROM evidence WHERE eventTime >= TIMESTAMP '{ts(start)}' "
        "AND eventData.dataSource = 'AWS Config'", env=env).stdout)["assessmentReport"]
    owner = server.client(identity)
    server.services.reports.wait(120)
    record = next(r for r in server.services.reports.records() if r["id"] == created["id"])
    assert record["status"] == "COMPLETE" and record["evidenceCount"] == len(expected)
    assert _evidence_ids_in(server, seeded, owner, created) == expected
    refused = run(AWS, "--endpoint-url", server.url, "auditmanager", "create-assessment-report",
                  "--assessment-id", aid, "--name", "counts", "--query-statement",
                  "SELECT count(*) FROM evidence", env=env, check=False)
    assert refused.returncode != 0 and "must return eventData.evidenceId" in refused.stderr


def test_report_without_a_query_holds_the_selected_evidence(server, seeded):
    owner = server.client(seeded["owner"])
    aid = seeded["ids"][0]
    folders = walk(owner.get_evidence_folders_by_assessment, "evidenceFolders", assessmentId=aid)
    chosen = folders[0]
    owner.associate_assessment_report_evidence_folder(assessmentId=aid,
                                                      evidenceFolderId=chosen["id"])
    report, record = _report(server, seeded, owner, name="selected")
    assert record["evidenceCount"] == chosen["totalEvidence"]


# -- CloudTrail Lake's query API through boto3 ---------------------------------------------

def lake(server, identity):
    return boto3.client("cloudtrail", endpoint_url=server.url, region_name="us-east-1",
                        aws_access_key_id=identity.key_id,
                        aws_secret_access_key=identity.secret,
                        config=Config(retries={"total_max_attempts": 1}))


def lake_rows(client, sql: str, page: int = 7) -> list[dict]:
    query_id = client.start_query(QueryStatement=sql)["QueryId"]
    assert client.describe_query(QueryId=query_id)["QueryStatus"] == "FINISHED"
    rows, token = [], None
    while True:
        kwargs = {"QueryId": query_id, "MaxQueryResults": page}
        if token:
            kwargs["NextToken"] = token
        answer = client.get_query_results(**kwargs)
        assert answer["QueryStatus"] == "FINISHED"
        rows += [{k: v for cell in row for k, v in cell.items()}
                 for row in answer["QueryResultRows"]]
        token = answer.get("NextToken")
        if not token:
            assert answer["QueryStatistics"]["TotalResultsCount"] == len(rows)
            return rows


def test_queries_through_boto3_cloudtrail_lake(server, seeded):
    client = lake(server, seeded["owner"])
    ids, items = seeded["ids"], visible(seeded)
    store = seeded["states"][-1]["eventDataStoreArn"].rsplit("/", 1)[1]

    def ids_of(where: str) -> set[str]:
        return {r["evidenceId"] for r in lake_rows(
            client, f"SELECT DISTINCT eventData.evidenceId FROM {store} WHERE {where}")}

    assert ids_of(f"eventData.assessmentId = '{ids[0]}'") == \
        {i["id"] for i in items if i["assessment"] == ids[0]}
    assert ids_of(f"eventData.evidenceAwsAccountId = '{ACCOUNTS[0]}'") == \
        {i["id"] for i in items if i["account"] == ACCOUNTS[0]}
    start = NOW - timedelta(days=3)
    assert ids_of(f"eventTime >= TIMESTAMP '{ts(start)}'") == \
        {i["id"] for i in items if i["time"] >= start}
    assert ids_of("eventData.complianceCheck IN ('PASSED', 'COMPLIANT')") == \
        {i["id"] for i in items if i["result"] in ("PASSED", "COMPLIANT")}
    assert ids_of("eventData.dataSource = 'AWS CloudTrail'") == \
        {i["id"] for i in items if i["source"] == "AWS CloudTrail"}
    arn = f"arn:aws:iam::{ACCOUNTS[1]}:user/u3"
    assert ids_of(f"eventData.resourceArn = '{arn}'") == \
        {i["id"] for i in items if arn in i["resources"]}
    counts = lake_rows(client, "SELECT eventData.controlDomainName AS domain, count(DISTINCT "
                               f"eventData.evidenceId) AS n FROM {store} GROUP BY 1")
    expected = Counter(i["domain"] for i in items)
    assert {r["domain"]: int(r["n"]) for r in counts} == expected


def test_boto3_bad_queries_rights_and_ownership(server, seeded):
    owner = lake(server, seeded["owner"])
    with pytest.raises(ClientError) as caught:
        owner.start_query(QueryStatement="SELECT *\nFROM evidence WHERE nope = 1")
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidQueryStatementException"
    assert "Unknown column nope" in error["Message"] and "line 2" in error["Message"]
    with pytest.raises(ClientError) as caught:
        owner.start_query(QueryStatement="DROP TABLE evidence")
    assert caught.value.response["Error"]["Code"] == "InvalidQueryStatementException"
    delegate = lake(server, seeded["delegate"])
    rows = lake_rows(delegate, "SELECT eventData.evidenceId FROM evidence WHERE "
                               "eventData.controlSetId = 'Identity' UNION SELECT "
                               "eventData.evidenceId FROM evidence")
    assert {r["evidenceId"] for r in rows} == {i["id"] for i in visible(seeded, "delegate")}
    # A query's result belongs to the principal that started it.
    query_id = owner.start_query(QueryStatement="SELECT eventID FROM evidence")["QueryId"]
    with pytest.raises(ClientError) as caught:
        delegate.get_query_results(QueryId=query_id)
    assert caught.value.response["Error"]["Code"] == "QueryIdNotFoundException"

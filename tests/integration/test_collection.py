"""Collection through the real path: the jobs (dispatched in-process), boto3 sessions and AssumeRole against a moto
server holding two accounts, evidence filed in the ledger and read back through the API.

moto does not implement Config's compliance details nor CloudTrail's LookupEvents: those two
calls are answered by a botocore ``before-call`` hook with responses the service model
validates, so everything else (sessions, retries, paging, filing) runs for real.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters
from collect_fixtures.trail import log_key, put_log, record
from support import AssayServer, backends, moto_aws, walk

from assay.config import load_settings
from assay.jobs import InlineRunner, InlineSchedule
from assay.store import tables

OWN = "123456789012"  # moto's default account: Assay's own credentials
REGION = "us-east-1"
TRAIL_BUCKET = "org-trail"
ASSAY = str(Path(sys.executable).with_name("assay"))


@pytest.fixture(scope="module")
def moto():
    with moto_aws() as url:
        yield url


def client(moto, service, **credentials):
    return boto3.client(service, endpoint_url=moto, region_name=REGION,
                        **(credentials or {"aws_access_key_id": "testing",
                                           "aws_secret_access_key": "testing"}))


@pytest.fixture(scope="module")
def sandbox(moto):
    """Two accounts: Assay's own and a member reached by AssumeRole, with a realistic mix."""
    urllib.request.urlopen(urllib.request.Request(f"{moto}/moto-api/reset", method="POST")).close()
    organizations = client(moto, "organizations")
    organizations.create_organization(FeatureSet="ALL")
    member = organizations.create_account(AccountName="workloads", Email="w@example.com")[
        "CreateAccountStatus"]["AccountId"]
    denied = organizations.create_account(AccountName="locked", Email="l@example.com")[
        "CreateAccountStatus"]["AccountId"]
    iam = client(moto, "iam")
    for name in ("alice", "bob", "carol"):
        iam.create_user(UserName=name)
    credentials = client(moto, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{member}:role/AssayMemberRole", RoleSessionName="seed")["Credentials"]
    member_iam = client(moto, "iam", aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials["SessionToken"])
    member_iam.create_user(UserName="member-dave")

    securityhub = client(moto, "securityhub")
    securityhub.enable_security_hub()
    findings = []
    for n, status in enumerate(["FAILED", "PASSED", "FAILED"]):
        findings.append({
            "SchemaVersion": "2018-10-08", "Id": f"arn:aws:securityhub:{REGION}:{OWN}:finding/{n}",
            "ProductArn": f"arn:aws:securityhub:{REGION}::product/aws/securityhub",
            "GeneratorId": "security-control/IAM.6", "AwsAccountId": OWN, "Region": REGION,
            "Types": ["Software and Configuration Checks"], "CreatedAt": "2026-11-01T00:00:00Z",
            "UpdatedAt": "2026-11-01T00:00:00Z", "Severity": {"Label": "CRITICAL"},
            "Title": "Hardware MFA should be enabled for the root user", "Description": "d",
            "Resources": [{"Type": "AwsAccount", "Id": f"AWS::::Account:{OWN}", "Region": REGION}],
            "Compliance": {"Status": status, "SecurityControlId": "IAM.6"},
            "RecordState": "ACTIVE", "Workflow": {"Status": "SUPPRESSED" if n == 2 else "NEW"},
        })
    securityhub.batch_import_findings(Findings=findings)

    s3 = client(moto, "s3")
    s3.create_bucket(Bucket=TRAIL_BUCKET)
    return {"member": member, "denied": denied, "s3": s3}


def trail_logs(sandbox, prefix: str, when: dt.datetime, count: int, name="ConsoleLogin",
               account: str = OWN):
    """``count`` sign-in events at ``when`` in the trail's bucket, under ``prefix``."""
    records = [record("signin.amazonaws.com", name, (when + dt.timedelta(seconds=i)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"), event_id=f"evt-{account}-{when:%H%M}-{i}", account=account)
        for i in range(count)]
    put_log(sandbox["s3"], TRAIL_BUCKET,
            log_key(prefix, when + dt.timedelta(minutes=5), account=account,
                    unique=f"{when:%H%M%S}{count:010d}"), records)


def trail_prefix(server) -> str:
    return server.services.settings.cloudtrail_s3_uri.split("/", 3)[3]


def canned(model, params, **_):
    """Answers for what moto lacks, checked against the output shape like Stubber does."""
    name = model.name
    if name == "DescribeConfigRules":
        parsed = {"ConfigRules": [{
            "ConfigRuleName": "iam-password-policy-conformance-abc", "ConfigRuleState": "ACTIVE",
            "Source": {"Owner": "AWS", "SourceIdentifier": "IAM_PASSWORD_POLICY"}}]}
    elif name == "GetComplianceDetailsByConfigRule":
        parsed = {"EvaluationResults": [{
            "EvaluationResultIdentifier": {"EvaluationResultQualifier": {
                "ConfigRuleName": "iam-password-policy-conformance-abc", "ResourceType": "AWS::::Account",
                "ResourceId": OWN}, "OrderingTimestamp": dt.datetime(2026, 11, 26)},
            "ComplianceType": "NON_COMPLIANT", "ResultRecordedTime": dt.datetime(2026, 11, 26),
            "ConfigRuleInvokedTime": dt.datetime(2026, 11, 26)}]}
    elif name == "LookupEvents":
        parsed = {"Events": [{
            "EventId": "lookup-1", "EventName": "CreateUser", "EventSource": "iam.amazonaws.com",
            "EventTime": dt.datetime.now(dt.timezone.utc), "Username": "alice",
            "CloudTrailEvent": '{"eventID": "lookup-1", "eventName": "CreateUser", '
                               '"eventSource": "iam.amazonaws.com", "awsRegion": "us-east-1", '
                               '"userIdentity": {"type": "IAMUser", "arn": '
                               f'"arn:aws:iam::{OWN}:user/alice", "accountId": "{OWN}"}}, '
                               f'"eventTime": "2026-11-27T00:00:00Z", "recipientAccountId": "{OWN}"}}'}]}
    else:
        return None
    validate_parameters(parsed, model.output_shape)
    return AWSResponse("https://stub", 200, {}, None), parsed


class Harness:
    """Sessions as the runner makes them, with the canned calls and injected faults."""

    def __init__(self, denied_account: str):
        self.denied_account = denied_account
        self.throttle_once = set()

    def session(self, **kwargs):
        session = boto3.Session(**kwargs)
        session.events.register("before-call.config-service", canned)
        session.events.register("before-call.cloudtrail.LookupEvents", canned)
        session.events.register("before-call.sts.AssumeRole", self.deny)
        session.events.register("before-send.iam.ListUsers", self.throttle)
        return session

    def deny(self, params, **_):
        if f"::{self.denied_account}:" in params["body"].get("RoleArn", ""):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message":
                                         "not authorized to assume the member role"}},
                              "AssumeRole")

    def throttle(self, request, **_):
        if "ListUsers" in self.throttle_once:
            self.throttle_once.discard("ListUsers")
            self.throttled = True
            body = (b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                    b"<Message>Rate exceeded</Message></Error></ErrorResponse>")
            return AWSResponse(request.url, 400, {}, _Raw(body))


class _Raw:
    def __init__(self, body):
        self.body = body

    def stream(self, **_):
        yield self.body


@pytest.fixture(scope="module", params=backends())
def server(request, tmp_path_factory, moto, sandbox):
    # Each backend's run reads its own trail folder: the moto sandbox is shared.
    instance = AssayServer.start(tmp_path_factory.mktemp("collect"), request.param,
                                 cloudtrail_s3_uri=f"s3://{TRAIL_BUCKET}/trail-{request.param}")
    # The organization trail covers both accounts.
    hour_ago = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=1)
    trail_logs(sandbox, trail_prefix(instance), hour_ago, 1, account=sandbox["member"])
    trail_logs(sandbox, trail_prefix(instance), hour_ago - dt.timedelta(hours=4), 1)
    yield instance
    instance.stop()


@pytest.fixture(params=backends())
def backend(request):
    return request.param


def source(kind, keyword, **extra):
    return {"sourceName": f"{kind} {keyword}", "sourceType": kind,
            "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": keyword}, **extra}


@pytest.fixture(scope="module")
def assessment(server, sandbox):
    admin = server.client()
    controls = {
        "users": admin.create_control(name="Users are inventoried", controlMappingSources=[
            source("AWS_API_Call", "iam_ListUsers")])["control"],
        "mfa": admin.create_control(name="Root MFA", controlMappingSources=[
            source("AWS_Security_Hub", "IAM.6")])["control"],
        "password": admin.create_control(name="Password policy", controlMappingSources=[
            source("AWS_Config", "IAM_PASSWORD_POLICY")])["control"],
        "signin": admin.create_control(name="Console sign-ins", controlMappingSources=[
            source("AWS_Cloudtrail", "signin_ConsoleLogin")])["control"],
    }
    framework = admin.create_assessment_framework(name=f"collect-{server.backend}", controlSets=[
        {"name": "Identity", "controls": [{"id": c["id"]} for c in controls.values()]}])["framework"]
    created = admin.create_assessment(
        name="collected", frameworkId=framework["id"],
        scope={"awsAccounts": [{"id": OWN}, {"id": sandbox["member"]}, {"id": sandbox["denied"]}]},
        roles=[{"roleType": "PROCESS_OWNER", "roleArn": server.admin.arn}],
        assessmentReportsDestination={})["assessment"]
    # Backdate the start so the trail's files of the last hours are "after the assessment started".
    with server.services.store.write() as conn:
        conn.execute(tables.assessments.update()
                     .where(tables.assessments.c.id == created["metadata"]["id"])
                     .values(created_at=time.time() - 6 * 3600))
    return created["metadata"]["id"], {k: c["id"] for k, c in controls.items()}


def evidence_of(admin, assessment_id, control_id):
    folders = walk(admin.get_evidence_folders_by_assessment_control, "evidenceFolders",
                   assessmentId=assessment_id, controlSetId="Identity", controlId=control_id)
    items = [e for f in folders for e in walk(admin.get_evidence_by_evidence_folder, "evidence",
                                               assessmentId=assessment_id, controlSetId="Identity",
                                               evidenceFolderId=f["id"])]
    return folders, items


def test_collects_all_four_sources_across_accounts(server, sandbox, assessment):
    assessment_id, controls = assessment
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    trail_logs(sandbox, trail_prefix(server), now - dt.timedelta(hours=2), 4)
    trail_logs(sandbox, trail_prefix(server), now - dt.timedelta(days=3), 2)  # before the start
    harness = Harness(sandbox["denied"])
    harness.throttle_once.add("ListUsers")
    result = InlineRunner(server.services, session_factory=harness.session).run(
        server.services.system(), assessment_id)
    admin = server.client()

    # API calls: one item per user, in each reachable account; the throttled call was retried
    # and counted apart from failures.
    assert harness.throttled
    assert result.throttled == 1
    folders, items = evidence_of(admin, assessment_id, controls["users"])
    users = sorted(e["attributes"].get("UserName", "") for e in items)
    assert users == ["alice", "bob", "carol", "member-dave"]
    assert {e["evidenceByType"] for e in items} == {"Configuration data"}
    assert {e["evidenceAwsAccountId"] for e in items} == {OWN, sandbox["member"]}
    assert sum(f["totalEvidence"] for f in folders) == 4

    # Security Hub: PASSED / FAILED per finding, the suppressed one marked.
    folders, items = evidence_of(admin, assessment_id, controls["mfa"])
    assert sorted(e["complianceCheck"] for e in items) == ["FAILED", "FAILED", "PASSED"]
    assert folders[0]["evidenceByTypeComplianceCheckIssuesCount"] == 2
    assert any(e["attributes"].get("workflowStatus") == "SUPPRESSED" for e in items)

    # Config: the rule behind the keyword, its per-resource evaluation.
    _, items = evidence_of(admin, assessment_id, controls["password"])
    assert [e["complianceCheck"] for e in items if e["evidenceAwsAccountId"] == OWN] == ["NON_COMPLIANT"]

    # CloudTrail from the trail's files: only events after the assessment started.
    folders, items = evidence_of(admin, assessment_id, controls["signin"])
    own = [e for e in items if e["evidenceAwsAccountId"] == OWN]
    assert len(own) == 5 and {e["evidenceByType"] for e in own} == {"User activity"}
    assert [e["evidenceAwsAccountId"] for e in items if e not in own] == [sandbox["member"]]
    assert all(e["iamId"].endswith(":user/alice") for e in own)

    # The locked account: the role was tried once before fanning out, and its one failure
    # says what to do; its controls say why they have nothing from it.
    assert result.errors == 1
    [failure] = result.failures
    assert failure["account_id"] == sandbox["denied"] and failure["error_code"] == "AccessDenied"
    assert failure["source_type"] == "SETUP" and "docs/iam" in failure["message"]
    assert f"in account {sandbox['denied']}" in failure["message"]
    status = server.services.collection.status(server.services.system(), assessment_id)
    assert status["runs"][0]["errors"] == 1 and status["failures_total"] == 1
    assert [(g["source"], g["error_code"], g["count"]) for g in status["failure_groups"]] == [
        ("setup", "AccessDenied", 1)]
    notes = [n for n in admin.list_notifications()["notifications"]
             if "collection had" in n["description"]]
    assert len(notes) == 1 and "1 failure(s)" in notes[0]["description"]
    progress = server.services.collection.progress(server.services.system(), assessment_id)
    assert progress["status"] == "COMPLETE" and progress["errors"] == 1
    # Per reachable account: API calls, Security Hub, Config, and one shard per day of trail
    # files since the start (6 hours ago: one day, or two just after midnight UTC).
    days = len({time.strftime("%Y-%m-%d", time.gmtime(t)) for t in (
        server.services.collection.plan_of_run(assessment_id).created_at, time.time())})
    assert progress["total"] == progress["done"] == 2 * (3 + days) and progress["queued"] == 0

    # Insights agree with what was filed.
    insights = admin.get_insights_by_assessment(assessmentId=assessment_id)["insights"]
    assert insights["noncompliantEvidenceCount"] >= 3 and insights["compliantEvidenceCount"] >= 1


def test_evidence_shapes_are_what_audit_manager_clients_read(server, sandbox, assessment):
    """Issue 14, cases 2 and 3, read back through boto3 as client code reads them."""
    assessment_id, controls = assessment
    InlineRunner(server.services, session_factory=Harness(sandbox["denied"]).session).run(
        server.services.system(), assessment_id)
    admin = server.client()
    admin.batch_import_evidence_to_assessment_control(
        assessmentId=assessment_id, controlSetId="Identity", controlId=controls["users"],
        manualEvidence=[{"textResponse": "Users are reviewed every quarter."}])
    items = {kind: evidence_of(admin, assessment_id, controls[kind])[1]
             for kind in ("users", "mfa", "password", "signin")}

    # Case 2. Config evidence: resourcesIncluded[].value is the evaluation with AWS Config's
    # own member names (Evaluation: ComplianceResourceType, ComplianceResourceId, ComplianceType;
    # https://docs.aws.amazon.com/config/latest/APIReference/API_Evaluation.html), which tools
    # written against Audit Manager parse, skipping items whose complianceType is missing or
    # NOT_APPLICABLE.
    config_items = [e for e in items["password"] if e["evidenceAwsAccountId"] == OWN]
    value = json.loads(config_items[0]["resourcesIncluded"][0]["value"])
    assert value["complianceResourceId"] == OWN
    assert value["complianceResourceType"] == "AWS::::Account"
    assert value["complianceType"] == "NON_COMPLIANT"
    assert value["configRuleName"] == "iam-password-policy-conformance-abc"
    # Security Hub evidence: the value is the finding's resource as ASFF names its members
    # (Resources[].Type, Id, Partition, Region: the AWS Security Finding Format), with the
    # finding's compliance status as the resource's complianceCheck (API reference, Resource).
    hub_resource = items["mfa"][0]["resourcesIncluded"][0]
    assert json.loads(hub_resource["value"]) == {
        "Type": "AwsAccount", "Id": f"AWS::::Account:{OWN}", "Region": REGION}
    assert hub_resource["complianceCheck"] in ("PASSED", "FAILED")

    # Case 3. complianceCheck is on every item. Where no check applies (API calls, CloudTrail,
    # manual evidence) it is NOT_APPLICABLE: the API reference's EvidenceInsights says "If
    # evidence has a compliance check status of not applicable in the console, it's classified
    # as inconclusive", and Evidence.complianceCheck says such sources "don't support
    # compliance checks" (https://docs.aws.amazon.com/audit-manager/latest/APIReference/
    # API_EvidenceInsights.html, API_Evidence.html).
    everything = [e for group in items.values() for e in group]
    assert all("complianceCheck" in e for e in everything)
    for kind in ("users", "signin"):
        assert {e["complianceCheck"] for e in items[kind]} == {"NOT_APPLICABLE"}
    manual = [e for e in items["users"] if e["evidenceByType"] == "Manual"]
    assert manual and manual[0]["complianceCheck"] == "NOT_APPLICABLE"
    # The insights' inconclusive count is exactly the evidence that is neither compliant nor not.
    insights = admin.get_insights_by_assessment(assessmentId=assessment_id)["insights"]
    folders = walk(admin.get_evidence_folders_by_assessment, "evidenceFolders",
                   assessmentId=assessment_id)
    total = sum(f["totalEvidence"] for f in folders)
    assert insights["inconclusiveEvidenceCount"] == total - insights["compliantEvidenceCount"] \
        - insights["noncompliantEvidenceCount"]
    shown = [e for f in folders for e in walk(admin.get_evidence_by_evidence_folder, "evidence",
                                              assessmentId=assessment_id,
                                              controlSetId=f["controlSetId"],
                                              evidenceFolderId=f["id"])]
    assert insights["inconclusiveEvidenceCount"] == sum(
        1 for e in shown if e["complianceCheck"] not in ("COMPLIANT", "PASSED", "NON_COMPLIANT",
                                                         "FAILED"))
    assert insights["inconclusiveEvidenceCount"] >= len(items["signin"]) + len(manual)


def test_rerun_adds_nothing_and_trail_continues_from_its_cursor(server, sandbox, assessment):
    assessment_id, controls = assessment
    harness = Harness(sandbox["denied"])
    runner = InlineRunner(server.services, session_factory=harness.session)
    with server.services.store.read() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(tables.evidence)).scalar_one()
    again = runner.run(server.services.system(), assessment_id)
    assert again.added == 0 and again.duplicates > 0
    with server.services.store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.evidence)).scalar_one() == before
    # New trail files are picked up from where the last run stopped.
    trail_logs(sandbox, trail_prefix(server), dt.datetime.now(dt.timezone.utc).replace(
        microsecond=0) - dt.timedelta(minutes=30), 3)
    third = runner.run(server.services.system(), assessment_id)
    signin = [r for r in third.summary if r["control_id"] == controls["signin"]]
    assert signin[0]["added"] == 3 and signin[0]["duplicates"] == 0
    assert list(server.services.ledger.verify()) == []


def test_trail_files_one_shard_per_day_same_ids_and_a_rerun_adds_nothing(server, sandbox):
    """A trail read one day per shard: every event since the start filed once, under the
    evidence ids the ledger's rule gives them (the same as one pass over the whole trail did);
    a re-run adds nothing, and days read completely are not planned again."""
    from assay.jobs.work import TRAIL_PART
    from assay.service.ledger import EvidenceDraft, day_of

    admin = server.client()
    control = admin.create_control(name=f"Sign-ins by day {server.backend}", controlMappingSources=[
        source("AWS_Cloudtrail", "signin_ConsoleLogin")])["control"]
    framework = admin.create_assessment_framework(name=f"days-{server.backend}", controlSets=[
        {"name": "Trail", "controls": [{"id": control["id"]}]}])["framework"]
    assessment_id = admin.create_assessment(
        name="by day", frameworkId=framework["id"], scope={"awsAccounts": [{"id": OWN}]},
        roles=[{"roleType": "PROCESS_OWNER", "roleArn": server.admin.arn}],
        assessmentReportsDestination={})["assessment"]["metadata"]["id"]
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    start = now - dt.timedelta(days=3, hours=2)
    with server.services.store.write() as conn:
        conn.execute(tables.assessments.update().where(tables.assessments.c.id == assessment_id)
                     .values(created_at=start.timestamp()))
    # (Event ids here are made from the time of day: each file at a minute of its own.)
    for back in (dt.timedelta(days=3, hours=3, minutes=1), dt.timedelta(days=3, hours=1, minutes=2),
                 dt.timedelta(days=2, minutes=3), dt.timedelta(days=1, minutes=4),
                 dt.timedelta(hours=1, minutes=5)):
        trail_logs(sandbox, trail_prefix(server), now - back, 3)
    runner = InlineRunner(server.services, session_factory=Harness(sandbox["denied"]).session)

    first = runner.run(server.services.system(), assessment_id)

    days = [(start + dt.timedelta(days=n)).date().isoformat() for n in range(5)
            if start.date() + dt.timedelta(days=n) <= now.date()]
    with server.services.store.read() as conn:
        sh = tables.collection_shards
        shards = sorted(conn.execute(sa.select(sh.c.part).where(
            sh.c.run_id == first.run_id, sh.c.source_type == "AWS_Cloudtrail")).scalars())
        filed = set(conn.execute(sa.select(tables.evidence.c.id).where(
            tables.evidence.c.assessment_id == assessment_id)).scalars())
    assert shards == [f"{TRAIL_PART}/{day}" for day in days]
    # What the trail holds for this account since the start, read straight from S3.
    s3, events = sandbox["s3"], []
    root = f"{trail_prefix(server)}/AWSLogs/{OWN}/CloudTrail/{REGION}/"
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=TRAIL_BUCKET, Prefix=root):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=TRAIL_BUCKET, Key=item["Key"])["Body"].read()
            events += [e for e in json.loads(gzip.decompress(body))["Records"]
                       if dt.datetime.fromisoformat(e["eventTime"].replace("Z", "+00:00")) >= start]
    assert len(events) >= 12  # this test's, and the other tests' files of the last hours
    collected = day_of(time.time())
    assert filed == {EvidenceDraft(assessment_id, "Trail", control["id"], collected,
                                   f"AWS_Cloudtrail|signin_ConsoleLogin|{OWN}|{e['eventID']}",
                                   {"dataSource": "AWS CloudTrail"}).evidence_id for e in events}
    assert first.added == len({e["eventID"] for e in events}) and first.errors == 0

    again = runner.run(server.services.system(), assessment_id)
    assert again.added == 0 and again.duplicates == 0  # every day continued from its cursor
    with server.services.store.read() as conn:
        replanned = sorted(conn.execute(sa.select(sh.c.part).where(
            sh.c.run_id == again.run_id, sh.c.source_type == "AWS_Cloudtrail")).scalars())
    # Days that ended more than the grace period before the first run were read completely.
    assert replanned == [f"{TRAIL_PART}/{day}" for day in days
                         if dt.date.fromisoformat(day) >= (now - dt.timedelta(hours=1)).date()]
    assert list(server.services.ledger.verify()) == []


def test_lookup_events_mode_and_unknown_rule_is_a_visible_failure(moto, sandbox, tmp_path, backend):
    server = AssayServer.start(tmp_path, backend)
    try:
        admin = server.client()
        trail = admin.create_control(name="User creation", controlMappingSources=[
            source("AWS_Cloudtrail", "iam_CreateUser")])["control"]
        missing = admin.create_control(name="Root keys", controlMappingSources=[
            source("AWS_Config", "IAM_ROOT_ACCESS_KEY_CHECK")])["control"]
        framework = admin.create_assessment_framework(name="lookup", controlSets=[
            {"name": "Identity", "controls": [{"id": trail["id"]}, {"id": missing["id"]}]}])["framework"]
        assessment_id = admin.create_assessment(
            name="lookup", frameworkId=framework["id"], scope={"awsAccounts": [{"id": OWN}]},
            roles=[{"roleType": "PROCESS_OWNER", "roleArn": server.admin.arn}],
            assessmentReportsDestination={})["assessment"]["metadata"]["id"]
        result = InlineRunner(server.services, session_factory=Harness("none").session).run(
            server.services.system(), assessment_id)
        _, items = evidence_of(admin, assessment_id, trail["id"])
        assert [e["eventName"] for e in items] == ["CreateUser"]
        assert items[0]["iamId"] == f"arn:aws:iam::{OWN}:user/alice"
        failing = [r for r in result.summary if r["control_id"] == missing["id"]][0]
        assert failing["errors"] == 1 and failing["added"] == 0
        assert "ConfigRuleNotFound" in failing["why"] and "IAM_ROOT_ACCESS_KEY_CHECK" in failing["why"]
    finally:
        server.stop()


class UnparseableHarness(Harness):
    """Security Hub answers something botocore cannot parse (ResponseParserError is not a
    BotoCoreError)."""

    def session(self, **kwargs):
        session = super().session(**kwargs)
        session.events.register("before-call.securityhub.GetFindings", self.garbled)
        return session

    def garbled(self, **_):
        from botocore.parsers import ResponseParserError

        raise ResponseParserError("Unable to parse response (not well-formed), invalid XML")


def test_any_exception_from_a_source_is_recorded_and_the_run_goes_on(server, sandbox, assessment):
    assessment_id, controls = assessment
    result = InlineRunner(server.services, session_factory=UnparseableHarness(
        sandbox["denied"]).session).run(server.services.system(), assessment_id)
    assert result.status == "COMPLETE"
    garbled = [f for f in result.failures if f["error_code"] == "ResponseParserError"]
    assert {(f["account_id"], f["region"], f["source_type"], f["keyword"]) for f in garbled} == {
        (OWN, REGION, "AWS_Security_Hub", "IAM.6"), (sandbox["member"], REGION,
                                                     "AWS_Security_Hub", "IAM.6")}
    assert {f["control_id"] for f in garbled} == {controls["mfa"]}
    # Every other source of the same accounts and region was collected.
    users = [r for r in result.summary if r["control_id"] == controls["users"]][0]
    assert users["errors"] == 0 and users["added"] + users["duplicates"] == 4
    groups = {(g["source"], g["error_code"]): g["count"] for g in result.groups}
    assert groups[("AWS_Security_Hub IAM.6", "ResponseParserError")] == 2


def test_organization_scope(server, sandbox, assessment):
    """With a delegated administrator registered, accounts outside the organization are
    refused (recorded), members are collected."""
    assessment_id, _ = assessment
    admin = server.client()
    # The delegated administrator is a member account (OWN is the management account).
    registered = admin.register_organization_admin_account(adminAccountId=sandbox["member"])
    # The organization is read with Assay's own AWS credentials.
    assert registered["organizationId"].startswith("o-")
    try:
        admin.update_assessment(assessmentId=assessment_id, scope={"awsAccounts": [
            {"id": OWN}, {"id": sandbox["member"]}, {"id": "999999999999"}]})
        result = InlineRunner(server.services, session_factory=Harness("none").session).run(
            server.services.system(), assessment_id)
        outsiders = {f["account_id"] for f in result.failures}
        assert outsiders == {"999999999999"}
        assert {f["error_code"] for f in result.failures} == {"AccountNotInOrganization"}
    finally:
        admin.deregister_organization_admin_account(adminAccountId=sandbox["member"])


KILLED_RUN = r'''
import sys, time
import assay.jobs.work as work
from assay.config import load_settings
from assay.jobs import InlineRunner
from assay.service import open_services

home, db_url, trail_uri, assessment_id = sys.argv[1:5]
services = open_services(load_settings(home, db_url=db_url, cloudtrail_s3_uri=trail_uri))
original = work.Collection._append
work.BATCH = 50

def append_then_stall(self, *args, **kwargs):
    original(self, *args, **kwargs)
    print("APPENDED", flush=True)
    time.sleep(60)

work.Collection._append = append_then_stall
InlineRunner(services).run(services.system(), assessment_id)
'''


def test_kill_mid_collection_then_rerun_loses_and_doubles_nothing(moto, sandbox, tmp_path, backend):
    """kill -9 after the first batch is in the ledger; the run it left RUNNING is recovered
    (marked INTERRUPTED, run again) with every event exactly once, and a re-run (the real
    `assay collect`) adds nothing."""
    uri = f"s3://{TRAIL_BUCKET}/killed-{backend}"
    server = AssayServer.start(tmp_path / "home", backend, cloudtrail_s3_uri=uri)
    try:
        admin = server.client()
        control = admin.create_control(name="Sign-ins", controlMappingSources=[
            source("AWS_Cloudtrail", "signin_CheckMfa")])["control"]
        framework = admin.create_assessment_framework(name="killed", controlSets=[
            {"name": "Identity", "controls": [{"id": control["id"]}]}])["framework"]
        assessment_id = admin.create_assessment(
            name="killed", frameworkId=framework["id"], scope={"awsAccounts": [{"id": OWN}]},
            roles=[{"roleType": "PROCESS_OWNER", "roleArn": server.admin.arn}],
            assessmentReportsDestination={})["assessment"]["metadata"]["id"]
        with server.services.store.write() as conn:
            conn.execute(tables.assessments.update().where(tables.assessments.c.id == assessment_id)
                         .values(created_at=time.time() - 6 * 3600))
        start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=3)
        for hour in range(3):
            trail_logs(sandbox, f"killed-{backend}", start + dt.timedelta(hours=hour), 100,
                       name="CheckMfa")
        script = tmp_path / "killed.py"
        script.write_text(KILLED_RUN)
        process = subprocess.Popen([sys.executable, str(script), str(server.home),
                                    server.services.settings.database_url, uri, assessment_id],
                                   stdout=subprocess.PIPE, text=True, env=os.environ.copy())
        assert process.stdout.readline().strip() == "APPENDED"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        with server.services.store.read() as conn:
            partial = conn.execute(sa.select(sa.func.count()).select_from(tables.evidence)).scalar_one()
        assert 0 < partial < 300

        # The run the crash left RUNNING is found (its process is gone), marked INTERRUPTED
        # and run again.
        [killed] = server.services.collection.status(server.services.system(),
                                                     assessment_id)["runs"]
        assert killed["status"] == "RUNNING"
        services = server.services
        [again] = InlineRunner(services).recover()
        assert again.status == "COMPLETE" and again.errors == 0
        runs = {r["id"]: r for r in services.collection.status(services.system(),
                                                               assessment_id)["runs"]}
        assert runs[killed["id"]]["status"] == "INTERRUPTED"
        assert runs[again.run_id]["trigger"] == "recovery"
        _, items = evidence_of(admin, assessment_id, control["id"])
        assert len(items) == 300

        env = {**os.environ, "ASSAY_CLOUDTRAIL_S3_URI": uri,
               "ASSAY_DB_URL": server.services.settings.database_url}
        done = subprocess.run([ASSAY, "collect", "--assessment", assessment_id, "--home",
                               str(server.home), "--json"], env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["added"] == 0
        _, items = evidence_of(admin, assessment_id, control["id"])
        assert len(items) == 300 and len(set(e["id"] for e in items)) == 300
        assert list(server.services.ledger.verify()) == []
    finally:
        server.stop()


def test_schedule_collects_what_is_due(server, sandbox, assessment):
    harness = Harness(sandbox["denied"])
    schedule = InlineSchedule(server.services, 60,
                              InlineRunner(server.services, session_factory=harness.session))
    assert schedule.tick() >= 1
    status = server.services.collection.status(server.services.system(), assessment[0])
    assert status["runs"][0]["trigger"] == "schedule"
    # API calls ran moments ago: not due again; CloudTrail always is.
    plan = server.services.collection.plan(server.services.system(), assessment[0])
    due = {r.source_type for r in plan.sources
           if server.services.collection.is_due(assessment[0], OWN, REGION, r, time.time())}
    assert due == {"AWS_Cloudtrail"}


def test_collect_exit_codes_and_one_line_per_setup_problem_through_the_shell(moto, tmp_path,
                                                                              backend):
    """`assay collect`: 0 completed (some sources failed), 1 nothing collected or --strict with
    a failure, 2 usage; no AWS credentials is one line with its fix, not one per source."""
    server = AssayServer.start(tmp_path / "home", backend)
    try:
        admin = server.client()
        controls = [admin.create_control(name=name, controlMappingSources=[source(kind, keyword)])[
            "control"]["id"] for name, kind, keyword in (
            ("Users", "AWS_API_Call", "iam_ListUsers"),
            ("Groups", "AWS_API_Call", "iam_ListGroups"),
            ("Root keys", "AWS_Config", "IAM_ROOT_ACCESS_KEY_CHECK"))]
        framework = admin.create_assessment_framework(name="exits", controlSets=[
            {"name": "Identity", "controls": [{"id": c} for c in controls]}])["framework"]
        assessment_id = admin.create_assessment(
            name="exits", frameworkId=framework["id"], scope={"awsAccounts": [{"id": OWN}]},
            roles=[{"roleType": "PROCESS_OWNER", "roleArn": server.admin.arn}],
            assessmentReportsDestination={})["assessment"]["metadata"]["id"]
        env = {**os.environ, "ASSAY_DB_URL": server.services.settings.database_url}

        def collect(*args, environment=env):
            return subprocess.run([ASSAY, "collect", "--home", str(server.home), *args],
                                  env=environment, capture_output=True, text=True, timeout=300)

        partial = collect("--assessment", assessment_id)
        assert partial.returncode == 0, partial.stdout + partial.stderr
        assert "1 failure(s) of 1 kind(s)" in partial.stdout
        assert "AWS_Config IAM_ROOT_ACCESS_KEY_CHECK  ConfigRuleNotFound in 1 account" in \
            partial.stdout
        strict = collect("--assessment", assessment_id, "--strict")
        assert strict.returncode == 1, strict.stdout + strict.stderr

        bare = {k: v for k, v in env.items() if not k.startswith("AWS_")}
        bare.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
                    AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_EC2_METADATA_DISABLED="true",
                    AWS_ENDPOINT_URL=moto)
        nothing = collect("--assessment", assessment_id, environment=bare)
        assert nothing.returncode == 1, nothing.stdout + nothing.stderr
        lines = [line for line in nothing.stdout.splitlines() if "NoCredentials" in line]
        assert len(lines) == 1 and "no AWS credentials: set AWS_PROFILE" in lines[0]
        assert "1 failure(s) of 1 kind(s)" in nothing.stdout

        unknown = collect("--assessment", "00000000-0000-4000-8000-000000000000")
        assert unknown.returncode == 2 and "does not exist" in unknown.stderr, unknown.stderr
        assert collect().returncode == 2  # --assessment is required

        status = subprocess.run([ASSAY, "status", "--home", str(server.home), "--assessment",
                                 assessment_id, "--limit", "0"], env=env, capture_output=True,
                                text=True, timeout=120)
        assert status.returncode == 0 and "setup  NoCredentials" in status.stdout, status.stdout
    finally:
        server.stop()



def _small_assessment(server, sandbox, name, keywords, accounts, regions):
    """An assessment over ``accounts`` and ``regions`` with one control per API-call keyword."""
    admin = server.client()
    controls = [admin.create_control(name=f"{name} {k}", controlMappingSources=[
        source("AWS_API_Call", k)])["control"]["id"] for k in keywords]
    framework = admin.create_assessment_framework(name=f"{name}-{server.backend}", controlSets=[
        {"name": "Identity", "controls": [{"id": c} for c in controls]}])["framework"]
    assessment_id = admin.create_assessment(
        name=name, frameworkId=framework["id"], scope={"awsAccounts": [{"id": a} for a in accounts]},
        roles=[{"roleType": "PROCESS_OWNER", "roleArn": server.admin.arn}],
        assessmentReportsDestination={})["assessment"]["metadata"]["id"]
    server.services.assessments.set_regions(server.services.system(), assessment_id, regions)
    return assessment_id


def test_global_services_are_collected_in_one_region_per_account(server, sandbox, monkeypatch):
    """IAM's endpoint is global in botocore's endpoint data: its shard runs in the first of the
    assessment's regions only, a regional service's in every region, and the evidence ids are
    those that collecting it in every region (as before) gives."""
    import assay.jobs.work as work
    from assay.collect.api_call import is_global_service

    assert is_global_service("iam") and is_global_service("organizations")
    assert is_global_service("route53") and is_global_service("iam", "aws-cn")
    assert not is_global_service("logs") and not is_global_service("no-such-service")
    accounts, regions = [OWN, sandbox["member"]], [REGION, "eu-west-1"]
    assessment_id = _small_assessment(server, sandbox, "global", ["iam_ListUsers",
                                                                   "logs_DescribeLogGroups"],
                                      accounts, regions)
    runner = InlineRunner(server.services, session_factory=Harness("none").session)

    # As before: every service in every region; IAM's second region only finds duplicates.
    with monkeypatch.context() as patch:
        patch.setattr(work, "is_global_service", lambda *_: False)
        before = runner.run(server.services.system(), assessment_id)
    assert before.shards == len(accounts) * len(regions) * 2
    assert (before.added, before.duplicates) == (4, 4)  # 3 users + 1 member user, twice
    collected = _evidence_ids(server, assessment_id)

    # Now: IAM once per account, in the first region, under one lock per account.
    after = runner.run(server.services.system(), assessment_id)
    assert after.shards == len(accounts) * len(regions) + len(accounts)
    assert (after.added, after.duplicates) == (0, 4)
    assert _evidence_ids(server, assessment_id) == collected and len(collected) == 4
    with server.services.store.read() as conn:
        sh = tables.collection_shards
        rows = conn.execute(sa.select(sh.c.shard).where(sh.c.run_id == after.run_id,
                                                        sh.c.part == "iam")).scalars().all()
    assert sorted(rows) == sorted(f"{a}/{REGION}/AWS_API_Call/iam" for a in accounts)
    assert work.lock_of(f"{OWN}/{REGION}/AWS_API_Call/iam") == f"aws/{OWN}/global/iam"
    assert work.lock_of(f"{OWN}/eu-west-1/AWS_API_Call/logs") == f"aws/{OWN}/eu-west-1/logs"


def _evidence_ids(server, assessment_id):
    with server.services.store.read() as conn:
        return set(conn.execute(sa.select(tables.evidence.c.id).where(
            tables.evidence.c.assessment_id == assessment_id)).scalars())


def test_old_runs_detail_is_pruned_after_the_retention(server, sandbox):
    """Shards and failures of finished runs older than the retention go, chunk by chunk; each
    assessment's latest run, runs within the retention and running runs keep theirs; every
    run keeps its row (totals, summary). The embedded schedule's round prunes too."""
    services = server.services
    assessment_id = _small_assessment(server, sandbox, "prune", ["iam_ListUsers"],
                                      [OWN, sandbox["denied"]], [REGION])
    other = _small_assessment(server, sandbox, "prune-other", ["iam_ListUsers"], [OWN], [REGION])
    runner = InlineRunner(services, session_factory=Harness(sandbox["denied"]).session)
    runs = [runner.run(services.system(), assessment_id).run_id for _ in range(3)]
    lone = runner.run(services.system(), other).run_id  # the latest (only) run of its assessment
    running = services.collection.start_run(assessment_id, "manual", "queue")
    services.collection.add_shards(running, assessment_id, [
        {"shard": f"{OWN}/{REGION}/AWS_API_Call/iam", "account_id": OWN, "region": REGION,
         "source_type": "AWS_API_Call", "part": "iam", "keywords": ["iam_ListUsers"]}], [
        {"control_set_id": "", "control_id": "", "account_id": OWN, "region": "",
         "source_type": "SETUP", "keyword": "", "error_code": "X", "message": "m"}])
    now = time.time()
    r, sh, f = tables.collection_runs, tables.collection_shards, tables.collection_failures
    with services.store.write() as conn:  # runs 0 and 1 finished 10 days ago, run 2 today
        for run_id in (*runs[:2], lone):
            conn.execute(r.update().where(r.c.id == run_id).values(finished_at=now - 10 * 86400))
        conn.execute(r.update().where(r.c.id == running).values(started_at=now - 20 * 86400))

    def detail(run_id):
        with services.store.read() as conn:
            return tuple(conn.execute(sa.select(sa.func.count()).select_from(t).where(
                t.c.run_id == run_id)).scalar_one() for t in (sh, f))

    assert all(detail(run_id) == (1, 1) for run_id in runs)  # one shard, the denied account
    with pytest.raises(ValueError):
        services.collection.prune(-1)
    with pytest.raises(ValueError, match="ASSAY_COLLECT_RETENTION_DAYS"):
        load_settings(services.settings.home, collect_retention_days="-0.5")
    assert load_settings(services.settings.home,
                         collect_retention_days="0.5").collect_retention_days == 0.5
    assert services.collection.prune(30, now=now) == {"runs": 0, "shards": 0, "failures": 0}
    # Chunks of one row: still every row of the two old runs.
    assert services.collection.prune(7, now=now, chunk=1) == {"runs": 2, "shards": 2,
                                                               "failures": 2}
    assert detail(runs[0]) == detail(runs[1]) == (0, 0)
    assert detail(runs[2]) == (1, 1)  # within the retention
    assert detail(lone) == (1, 0)  # its assessment's latest run, however old
    assert detail(running) == (1, 1)  # still running
    with services.store.read() as conn:
        kept = conn.execute(sa.select(r.c.id, r.c.summary, r.c.errors).where(
            r.c.id.in_(runs))).all()
    assert len(kept) == 3 and all(row.summary and row.errors == 1 for row in kept)
    assert services.collection.prune(7, now=now)["runs"] == 0  # nothing left to visit

    # Retention 0: all but the latest run of each assessment. The schedule's round prunes
    # before it collects: the run it supersedes goes on the next round.
    services.collection.interrupt(running)
    settings = services.settings
    try:
        services.settings = dataclasses.replace(settings, collect_retention_days=0.0)
        InlineSchedule(services, 60, InlineRunner(
            services, session_factory=Harness(sandbox["denied"]).session)).tick()
    finally:
        services.settings = settings
    assert detail(running) == (0, 0) and detail(runs[2]) == (1, 1)
    latest = services.collection.status(services.system(), assessment_id)["runs"][0]["id"]
    assert latest not in (*runs, running)
    kept = detail(latest)
    assert kept[1] == 1  # the denied account, again
    assert services.collection.prune(0)["runs"] >= 1
    assert detail(runs[2]) == (0, 0) and detail(latest) == kept
    assert detail(lone) == (0, 0)  # the round collected its assessment again


def test_a_batch_another_appender_filed_meanwhile_is_recounted(server, assessment, monkeypatch):
    """A shard's result is written before its ledger append (the shared rows are locked last)
    with the counts its preparation predicts; when another appender filed some of the same ids
    in between, the transaction is done again in the other order, with the real counts."""
    from assay.service.ledger import EvidenceDraft, day_of

    services = server.services
    assessment_id, controls = assessment
    day = day_of(time.time())
    drafts = [EvidenceDraft(assessment_id, "Identity", controls["users"], day, f"race|{n}",
                            {"dataSource": "AWS API calls", "evidenceByType": "Configuration data",
                             "n": n}) for n in range(3)]
    stale = services.ledger.prepare(drafts)  # prepared, then another appender files two
    assert services.collection.append(drafts[:2]).added == [d.evidence_id for d in drafts[:2]]
    prepare = services.ledger.prepare
    prepared = []

    def once_stale(batch_drafts, conn=None):
        prepared.append(conn is not None)
        return stale if len(prepared) == 1 else prepare(batch_drafts, conn)

    monkeypatch.setattr(services.ledger, "prepare", once_stale)
    recorded = []
    result = services.collection.append_and_record(
        drafts, lambda conn, outcome: recorded.append((len(outcome.added),
                                                       sorted(outcome.duplicates))))
    assert result.added == [drafts[2].evidence_id]
    assert recorded == [(3, []), (1, sorted(d.evidence_id for d in drafts[:2]))]
    assert prepared == [False, True]  # the second time inside the write transaction
    assert _evidence_ids(server, assessment_id) >= {d.evidence_id for d in drafts}
    assert list(services.ledger.verify()) == []


def test_shards_finishing_together_share_one_transaction(server, assessment, monkeypatch):
    """GroupCommit: while one shard's commit is under way, the shards finishing meanwhile are
    queued and then written together, in one transaction, each with its own counts."""
    import threading

    from assay.jobs.work import GroupCommit, _Tally
    from assay.service.ledger import EvidenceDraft, day_of

    services = server.services
    assessment_id, controls = assessment
    day = day_of(time.time())
    commits = GroupCommit(services)
    transactions = []
    original = services.collection.append_and_record

    def counted(drafts, record):
        transactions.append(len(drafts))
        return original(drafts, record)

    queued_all = threading.Event()
    recorded = []

    def shard(n, hold=False):
        drafts = [EvidenceDraft(assessment_id, "Identity", controls["users"], day,
                                f"group|{n}|{k}", {"dataSource": "AWS API calls", "k": k})
                  for k in range(n + 1)]
        tally = _Tally(counts={}, failures=[], states=[])
        tally.owners = {d.evidence_id: ("Identity", controls["users"], "AWS_API_Call")
                        for d in drafts}

        def record(conn):
            if hold:  # the first commit waits until every other shard is queued
                assert queued_all.wait(30)
            recorded.append((n, tally.added, tally.duplicates))

        commits.commit(drafts, tally, record)

    monkeypatch.setattr(services.collection, "append_and_record", counted)
    first = threading.Thread(target=shard, args=(0, True))
    first.start()

    def until(condition):  # bounded: a broken commit fails the test instead of hanging it
        for _ in range(3000):
            if condition():
                return
            time.sleep(0.01)
        raise AssertionError("timed out")

    until(lambda: transactions)
    others = [threading.Thread(target=shard, args=(n,)) for n in range(1, 6)]
    for thread in others:
        thread.start()
    until(lambda: len(commits._queued) == 5)
    queued_all.set()
    for thread in [first, *others]:
        thread.join(30)
    assert transactions == [1, 2 + 3 + 4 + 5 + 6]  # the first alone, then the five together
    assert sorted(recorded) == [(n, n + 1, 0) for n in range(6)]

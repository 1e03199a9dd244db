"""OSCAL export: frameworks as catalog + profile + component definition, assessments as
assessment-results. Every document is validated with compliance-trestle's OSCAL models."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import boto3
import orjson
import pytest
from botocore.stub import Stubber
from trestle.oscal.assessment_results import AssessmentResults
from trestle.oscal.catalog import Catalog
from trestle.oscal.component import ComponentDefinition
from trestle.oscal.profile import Profile

from assay.library import load_library
from assay.oscal import OSCAL_VERSION, assessment_results, framework_documents
from assay.oscal.client import fetch_assessment
from assay.oscal.common import ASSAY_NS, dumps, split_label, token_from
from assay.oscal.results import check_state

MODELS = {"catalog": Catalog, "profile": Profile, "component-definition": ComponentDefinition,
          "assessment-results": AssessmentResults}


def validate(document: dict):
    """Validate with trestle after a JSON round trip (what a file reader sees)."""
    ((kind, body),) = orjson.loads(dumps(document)).items()
    return MODELS[kind].model_validate(body)


T0 = datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc)
ACCOUNT = "111122223333"
FRAMEWORK_ID = "0f6a2c1e-7d4b-4c8a-9e3f-2b1d5a6c7e80"
C_MFA = "a1b2c3d4-0001-4a5b-8c6d-000000000001"
C_TRAIL = "a1b2c3d4-0002-4a5b-8c6d-000000000002"
C_POLICY = "a1b2c3d4-0003-4a5b-8c6d-000000000003"
C_BACKUP = "a1b2c3d4-0004-4a5b-8c6d-000000000004"


def source(source_id, name, source_type, keyword=None, frequency=None, description=None):
    out = {"sourceId": source_id, "sourceName": name, "sourceType": source_type,
           "sourceSetUpOption": "Procedural_Controls_Mapping" if source_type == "MANUAL"
           else "System_Controls_Mapping"}
    if keyword:
        out["sourceKeyword"] = {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": keyword}
    if frequency:
        out["sourceFrequency"] = frequency
    if description:
        out["sourceDescription"] = description
    return out


def control(control_id, name, sources, control_type="Custom", **text):
    return {
        "arn": f"arn:aws:auditmanager:us-east-1:{ACCOUNT}:control/{control_id}",
        "id": control_id, "type": control_type, "name": name,
        **text,
        "controlSources": ", ".join(sorted({s["sourceType"] for s in sources})),
        "controlMappingSources": sources,
        "createdAt": T0, "lastUpdatedAt": T0, "createdBy": "admin", "lastUpdatedBy": "admin",
        "state": "ACTIVE",
    }


def make_framework() -> dict:
    """A framework as boto3's get_assessment_framework returns it."""
    mfa = control(C_MFA, "IA-2(1) Multi-factor Authentication to Privileged Accounts", [
        source("b0000000-0000-4000-8000-000000000001", "Config root MFA", "AWS_Config",
               "ROOT_ACCOUNT_MFA_ENABLED", description="Root user has MFA"),
        source("b0000000-0000-4000-8000-000000000002", "Security Hub IAM.6", "AWS_Security_Hub",
               "IAM.6"),
        source("b0000000-0000-4000-8000-000000000003", "Credential report", "AWS_API_Call",
               "iam_GetCredentialReport", frequency="DAILY"),
    ], description="Implement multi-factor authentication for access to privileged accounts.",
        testingInformation="Check that every privileged user has MFA.",
        actionPlanTitle="Enforce MFA", actionPlanInstructions="Turn on MFA for the users listed.")
    trail = control(C_TRAIL, "Console sign-in activity", [
        source("b0000000-0000-4000-8000-000000000004", "ConsoleLogin", "AWS_Cloudtrail",
               "signin_ConsoleLogin"),
    ], description="Console logins are recorded.")
    policy = control(C_POLICY, "Access control policy \\ approved", [
        source("b0000000-0000-4000-8000-000000000005", "Policy document", "MANUAL"),
    ])
    backup = control(C_BACKUP, "Console sign-in activity!", [
        source("b0000000-0000-4000-8000-000000000006", "Backup plans", "AWS_API_Call",
               "backup_ListBackupPlans", frequency="WEEKLY"),
    ], testingInformation="Restore one backup a quarter.")
    return {
        "arn": f"arn:aws:auditmanager:us-east-1:{ACCOUNT}:assessmentFramework/{FRAMEWORK_ID}",
        "id": FRAMEWORK_ID, "name": "Cloud baseline", "type": "Custom",
        "complianceType": "Internal", "description": "Our cloud controls.",
        "controlSources": "AWS Config, AWS Security Hub, AWS API calls, AWS CloudTrail, Manual",
        "controlSets": [
            {"id": "c5e0b8a2-1111-4aaa-8bbb-000000000001", "name": "Identity and access",
             "controls": [mfa, trail, policy]},
            # The same control in a second set, and a name that slugs like another one.
            {"id": "c5e0b8a2-1111-4aaa-8bbb-000000000002", "name": "Resilience",
             "controls": [backup, mfa]},
        ],
        "createdAt": T0, "lastUpdatedAt": T0 + timedelta(days=1),
        "createdBy": "admin", "lastUpdatedBy": "admin", "tags": {},
    }


def catalog_controls(catalog: dict) -> dict[str, dict]:
    return {c["id"]: c for g in catalog["catalog"]["groups"] for c in g.get("controls", [])}


def part(control_doc: dict, name: str) -> dict | None:
    return next((p for p in control_doc.get("parts", []) if p["name"] == name), None)


# --------------------------------------------------------------------------- helpers


def test_labels_and_tokens():
    assert split_label("AC-2(1) Automated System Account Management") == (
        "AC-2(1)", "Automated System Account Management")
    assert split_label("164.308(a)(1)(i) Security management process") == (
        "164.308(a)(1)(i)", "Security management process")
    assert split_label("Console sign-in activity") == (None, "Console sign-in activity")
    assert split_label("CC6.1: Logical access") == ("CC6.1", "Logical access")
    assert token_from("AC-2(1)") == "ac-2.1"
    assert token_from("164.308(a)(1)(i)") == "c-164.308.a.1.i"
    assert token_from("Console sign-in activity") == "console-sign-in-activity"
    assert token_from("???") == "control"
    long = token_from("word " * 40)
    assert len(long) <= 64 and not long.endswith("-")


def test_compliance_check_values():
    assert check_state("COMPLIANT") == check_state("Passed") == "pass"
    assert check_state("NON_COMPLIANT") == check_state("FAILED") == "fail"
    assert check_state("NOT_APPLICABLE") is None and check_state(None) is None


# ------------------------------------------------------------------------- framework


def test_framework_documents_validate_and_carry_the_framework():
    framework = make_framework()
    documents = framework_documents(framework)
    assert set(documents) == {"catalog.json", "profile.json", "component-definition.json"}
    for document in documents.values():
        validate(document)
        assert next(iter(document.values()))["metadata"]["oscal-version"] == OSCAL_VERSION

    catalog = documents["catalog.json"]
    meta = catalog["catalog"]["metadata"]
    assert meta["title"] == "Cloud baseline" and meta["remarks"] == "Our cloud controls."
    assert meta["last-modified"] == "2026-10-02T09:00:00Z"
    groups = catalog["catalog"]["groups"]
    assert [g["title"] for g in groups] == ["Identity and access", "Resilience"]
    assert [c["id"] for c in groups[0]["controls"]] == [
        "ia-2.1", "console-sign-in-activity", "access-control-policy-approved"]
    # A control listed in two sets appears once; a colliding slug gets a suffix.
    assert [c["id"] for c in groups[1]["controls"]] == ["console-sign-in-activity-2"]
    all_ids = [g["id"] for g in groups] + list(catalog_controls(catalog))
    assert len(all_ids) == len(set(all_ids))

    mfa = catalog_controls(catalog)["ia-2.1"]
    assert mfa["title"] == "Multi-factor Authentication to Privileged Accounts"
    assert {"name": "label", "value": "IA-2(1)"} in mfa["props"]
    assert {"name": "control-id", "ns": ASSAY_NS, "value": C_MFA} in mfa["props"]
    assert part(mfa, "statement") == {
        "id": "ia-2.1_smt", "name": "statement",
        "prose": "Implement multi-factor authentication for access to privileged accounts."}
    assert part(mfa, "assessment-objective")["prose"] == "Check that every privileged user has MFA."
    guidance = part(mfa, "guidance")
    assert guidance["title"] == "Enforce MFA"
    assert guidance["prose"] == "Turn on MFA for the users listed."

    bare = catalog_controls(catalog)["access-control-policy-approved"]
    assert [p["name"] for p in bare["parts"]] == ["statement"]  # no text: an empty statement

    profile = documents["profile.json"]["profile"]
    assert profile["imports"] == [{"href": "catalog.json", "include-controls": [
        {"with-ids": list(catalog_controls(catalog))}]}]


def test_component_definition_has_the_evidence_sources_as_props():
    documents = framework_documents(make_framework())
    components = documents["component-definition.json"]["component-definition"]["components"]
    assert [c["title"] for c in components] == [
        "AWS Config", "AWS Security Hub", "AWS CloudTrail", "AWS API calls", "Manual evidence"]
    api = next(c for c in components if c["title"] == "AWS API calls")
    implementation = api["control-implementations"][0]
    assert implementation["source"] == "profile.json"
    requirements = {r["control-id"]: r for r in implementation["implemented-requirements"]}
    assert set(requirements) == {"ia-2.1", "console-sign-in-activity-2"}
    values = {(p["name"], p["value"]) for p in requirements["ia-2.1"]["props"]}
    assert {("source-type", "AWS_API_Call"), ("keyword", "iam_GetCredentialReport"),
            ("frequency", "DAILY"), ("source-name", "Credential report")} <= values
    assert all(p["ns"] == ASSAY_NS for p in requirements["ia-2.1"]["props"])
    config = next(c for c in components if c["title"] == "AWS Config")
    requirement = config["control-implementations"][0]["implemented-requirements"][0]
    assert requirement["description"] == "Root user has MFA"


def test_export_is_stable_and_changes_with_the_content():
    first = {k: dumps(v) for k, v in framework_documents(make_framework()).items()}
    again = {k: dumps(v) for k, v in framework_documents(make_framework()).items()}
    assert first == again
    changed = make_framework()
    changed["controlSets"][0]["controls"][0]["description"] = "Changed."
    other = framework_documents(changed)
    assert other["catalog.json"]["catalog"]["uuid"] != orjson.loads(first["catalog.json"])["catalog"]["uuid"]


def test_every_standard_framework_exports_valid_oscal():
    library = load_library()
    for standard in library.frameworks.values():
        framework = {
            "id": standard.id, "name": standard.name, "type": "Standard",
            "description": standard.description, "complianceType": standard.compliance_type,
            "createdAt": T0, "lastUpdatedAt": T0,
            "controlSets": [{"id": s.id, "name": s.name, "controls": [
                {"id": c.id, "type": "Standard", "name": c.name, "description": c.description,
                 "testingInformation": c.testing_information,
                 "actionPlanTitle": c.action_plan_title,
                 "actionPlanInstructions": c.action_plan_instructions,
                 "controlMappingSources": [dict(m) for m in c.mapping_sources]}
                for c in (library.controls[i] for i in s.control_ids)]}
                for s in standard.control_sets],
        }
        documents = framework_documents(framework)
        for document in documents.values():
            validate(document)
        ids = catalog_controls(documents["catalog.json"])
        assert len(ids) == len(set(standard.control_ids)), standard.key


# ------------------------------------------------------------------------ assessment

ASSESSMENT_ID = "5d0c4a1e-3b2f-4c6d-8e7f-9a0b1c2d3e4f"
SET_IAM = "Identity and access"
SET_RES = "Resilience"
F_MFA_CONFIG = "e0000000-0000-4000-8000-000000000001"
F_MFA_API = "e0000000-0000-4000-8000-000000000002"
F_TRAIL = "e0000000-0000-4000-8000-000000000003"
F_BACKUP = "e0000000-0000-4000-8000-000000000004"


def assessment_control(control_doc, status, evidence_count, comments=()):
    return {"id": control_doc["id"], "name": control_doc["name"],
            "description": control_doc.get("description", ""), "status": status,
            "response": "AUTOMATE", "comments": list(comments),
            "evidenceSources": [s["sourceType"] for s in control_doc["controlMappingSources"]],
            "evidenceCount": evidence_count, "assessmentReportEvidenceCount": 0}


def make_assessment(framework: dict) -> dict:
    """GetAssessment's ``assessment`` for an assessment created from ``framework``."""
    iam, res = framework["controlSets"]
    mfa, trail, policy = iam["controls"]
    backup, _ = res["controls"]
    process_owner = f"arn:aws:iam::{ACCOUNT}:role/grc"
    return {
        "arn": f"arn:aws:auditmanager:us-east-1:{ACCOUNT}:assessment/{ASSESSMENT_ID}",
        "awsAccount": {"id": ACCOUNT, "name": "prod"},
        "metadata": {
            "name": "Cloud baseline 2026", "id": ASSESSMENT_ID,
            "description": "Yearly review", "complianceType": "Internal", "status": "ACTIVE",
            "assessmentReportsDestination": {"destinationType": "S3",
                                             "destination": "s3://reports-bucket"},
            "scope": {"awsAccounts": [{"id": ACCOUNT}],
                      "awsServices": [{"serviceName": "iam"}]},
            "roles": [{"roleType": "PROCESS_OWNER", "roleArn": process_owner}],
            "delegations": [], "creationTime": T0, "lastUpdated": T0 + timedelta(days=3),
        },
        "framework": {
            "id": framework["id"], "arn": framework["arn"],
            "metadata": {"name": framework["name"], "description": framework["description"],
                         "complianceType": "Internal"},
            "controlSets": [
                {"id": SET_IAM, "description": SET_IAM, "status": "ACTIVE",
                 "roles": [{"roleType": "PROCESS_OWNER", "roleArn": process_owner}],
                 "controls": [
                     assessment_control(mfa, "REVIEWED", 3, comments=[
                         {"authorName": "Alice", "commentBody": "Root MFA fixed on 2 Oct.",
                          "postedDate": T0 + timedelta(days=2)}]),
                     assessment_control(trail, "REVIEWED", 1),
                     assessment_control(policy, "UNDER_REVIEW", 0)],
                 "delegations": [], "systemEvidenceCount": 4, "manualEvidenceCount": 0},
                {"id": SET_RES, "description": SET_RES, "status": "ACTIVE",
                 "roles": [{"roleType": "PROCESS_OWNER", "roleArn": process_owner}],
                 "controls": [assessment_control(backup, "UNDER_REVIEW", 1),
                              assessment_control(mfa, "INACTIVE", 0)],
                 "delegations": [], "systemEvidenceCount": 1, "manualEvidenceCount": 0},
            ],
        },
        "tags": {"team": "grc"},
    }


def folder(folder_id, control_doc, set_id, data_source, total):
    return {"name": f"{T0:%Y-%m-%d}", "date": T0, "assessmentId": ASSESSMENT_ID,
            "controlSetId": set_id, "controlId": control_doc["id"], "id": folder_id,
            "dataSource": data_source, "author": "Audit Manager", "totalEvidence": total,
            "assessmentReportSelectionCount": 0, "controlName": control_doc["name"],
            "evidenceResourcesIncludedCount": total, "evidenceByTypeConfigurationDataCount": 0,
            "evidenceByTypeManualCount": 0, "evidenceByTypeComplianceCheckCount": total,
            "evidenceByTypeComplianceCheckIssuesCount": 0, "evidenceByTypeUserActivityCount": 0,
            "evidenceAwsServiceSourceCount": 1}


def evidence(evidence_id, folder_id, **fields):
    base = {"dataSource": "AWS Config", "evidenceAwsAccountId": ACCOUNT, "time": T0,
            "eventSource": "config.amazonaws.com", "eventName": "", "evidenceByType":
            "Compliance check", "resourcesIncluded": [],
            "attributes": {}, "iamId": f"arn:aws:iam::{ACCOUNT}:role/collector",
            "awsAccountId": ACCOUNT, "evidenceFolderId": folder_id, "id": evidence_id,
            "assessmentReportSelection": "No"}
    base.update(fields)
    return base


def make_evidence(framework: dict) -> tuple[list[dict], dict[str, list[dict]]]:
    iam, res = framework["controlSets"]
    mfa, trail, _ = iam["controls"]
    backup, _ = res["controls"]
    folders = [folder(F_MFA_CONFIG, mfa, SET_IAM, "AWS Config", 2),
               folder(F_MFA_API, mfa, SET_IAM, "AWS API calls", 1),
               folder(F_TRAIL, trail, SET_IAM, "AWS CloudTrail", 1),
               folder(F_BACKUP, backup, SET_RES, "AWS Config", 1)]
    root = f"arn:aws:iam::{ACCOUNT}:root"
    items = {
        F_MFA_CONFIG: [
            evidence("f0000000-0000-4000-8000-000000000001", F_MFA_CONFIG,
                     eventName="ROOT_ACCOUNT_MFA_ENABLED", complianceCheck="NON_COMPLIANT",
                     resourcesIncluded=[{"arn": root, "value": root,
                                         "complianceCheck": "NON_COMPLIANT"}],
                     attributes={"configRuleName": "root-account-mfa-enabled"}),
            evidence("f0000000-0000-4000-8000-000000000002", F_MFA_CONFIG,
                     eventName="ROOT_ACCOUNT_MFA_ENABLED", complianceCheck="COMPLIANT",
                     time=T0 + timedelta(days=2),
                     resourcesIncluded=[{"arn": root, "complianceCheck": "COMPLIANT"}]),
        ],
        F_MFA_API: [
            evidence("f0000000-0000-4000-8000-000000000003", F_MFA_API, dataSource="AWS API calls",
                     eventSource="iam.amazonaws.com", eventName="GetCredentialReport",
                     evidenceByType="Configuration data snapshot",
                     resourcesIncluded=[{"arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
                                         "value": "{\"mfa_active\": true}"}]),
        ],
        F_TRAIL: [
            evidence("f0000000-0000-4000-8000-000000000004", F_TRAIL, dataSource="AWS CloudTrail",
                     eventSource="signin.amazonaws.com", eventName="ConsoleLogin",
                     evidenceByType="User activity"),
        ],
        F_BACKUP: [
            evidence("f0000000-0000-4000-8000-000000000005", F_BACKUP, complianceCheck="COMPLIANT",
                     eventName="BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
                     resourcesIncluded=[{"arn": f"arn:aws:backup:us-east-1:{ACCOUNT}:backup-plan:daily",
                                         "complianceCheck": "COMPLIANT"}]),
        ],
    }
    return folders, items


@pytest.fixture
def api_data():
    """The assessment, folders and evidence, fetched through a boto3 client whose responses
    botocore's Stubber checks against the auditmanager model (so the fixtures are API-shaped)."""
    framework = make_framework()
    assessment = make_assessment(framework)
    folders, items = make_evidence(framework)
    client = boto3.client("auditmanager", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="y")
    with Stubber(client) as stub:
        stub.add_response("get_assessment", {"assessment": copy.deepcopy(assessment)},
                          {"assessmentId": ASSESSMENT_ID})
        stub.add_response("get_evidence_folders_by_assessment",
                          {"evidenceFolders": folders[:3], "nextToken": "page2"},
                          {"assessmentId": ASSESSMENT_ID, "maxResults": 1000})
        stub.add_response("get_evidence_folders_by_assessment", {"evidenceFolders": folders[3:]},
                          {"assessmentId": ASSESSMENT_ID, "maxResults": 1000, "nextToken": "page2"})
        for f in folders:
            stub.add_response("get_evidence_by_evidence_folder", {"evidence": items[f["id"]]},
                              {"assessmentId": ASSESSMENT_ID, "controlSetId": f["controlSetId"],
                               "evidenceFolderId": f["id"], "maxResults": 1000})
        fetched = fetch_assessment(client, ASSESSMENT_ID)
        stub.assert_no_pending_responses()
    return framework, fetched


def test_assessment_results_validate(api_data):
    framework, (assessment, folders, items) = api_data
    document = assessment_results(assessment, folders, items)
    model = validate(document)
    assert model.metadata.oscal_version.root.root == OSCAL_VERSION
    body = document["assessment-results"]
    (result,) = body["results"]
    assert len(result["observations"]) == 5
    assert body["import-ap"]["href"].lstrip("#") in {r["uuid"] for r in body["back-matter"]["resources"]}
    assert assessment_results(assessment, folders, items) == document  # deterministic


def test_observations_describe_each_evidence_item(api_data):
    _, (assessment, folders, items) = api_data
    result = assessment_results(assessment, folders, items)["assessment-results"]["results"][0]
    by_evidence = {next(p["value"] for p in o["props"] if p["name"] == "evidence-id"): o
                   for o in result["observations"]}
    failing = by_evidence["f0000000-0000-4000-8000-000000000001"]
    assert failing["methods"] == ["TEST"]
    assert failing["collected"] == "2026-10-01T09:00:00Z"
    (subject,) = failing["subjects"]
    assert subject["type"] == "resource" and subject["title"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert {"name": "compliance-check", "ns": ASSAY_NS, "value": "NON_COMPLIANT"} in subject["props"]
    (relevant,) = failing["relevant-evidence"]
    assert "f0000000-0000-4000-8000-000000000001" in relevant["description"]
    assert orjson.loads(relevant["remarks"]) == {"configRuleName": "root-account-mfa-enabled"}
    assert by_evidence["f0000000-0000-4000-8000-000000000003"]["methods"] == ["EXAMINE"]
    assert by_evidence["f0000000-0000-4000-8000-000000000004"]["methods"] == ["EXAMINE"]
    assert "subjects" not in by_evidence["f0000000-0000-4000-8000-000000000004"]
    # Both MFA observations name the same root resource, defined once in back-matter.
    resources = assessment_results(assessment, folders, items)["assessment-results"]["back-matter"]["resources"]
    assert sum(1 for r in resources if r.get("title") == f"arn:aws:iam::{ACCOUNT}:root") == 1


def test_findings_follow_compliance_checks_and_review(api_data):
    framework, (assessment, folders, items) = api_data
    document = assessment_results(assessment, folders, items)
    result = document["assessment-results"]["results"][0]
    findings = {f["title"]: f for f in result["findings"]}
    status = {title: (f["target"]["status"]["state"], f["target"]["status"]["reason"])
              for title, f in findings.items()}
    assert status == {
        # Reviewed, but one evidence item failed its check: a sign-off does not hide it.
        "IA-2(1) Multi-factor Authentication to Privileged Accounts": ("not-satisfied", "fail"),
        "Console sign-in activity": ("satisfied", "pass"),  # reviewed
        "Access control policy \\ approved": ("not-satisfied", "other"),  # nothing yet
        "Console sign-in activity!": ("satisfied", "pass"),  # passing check, not reviewed
    }  # the INACTIVE copy of the MFA control in Resilience has no finding
    mfa = findings["IA-2(1) Multi-factor Authentication to Privileged Accounts"]
    assert len(mfa["related-observations"]) == 3
    assert "Alice" in mfa["remarks"] and "Root MFA fixed" in mfa["remarks"]
    assert "related-observations" not in findings["Access control policy \\ approved"]

    # Findings target statements of the catalog the framework exports to.
    catalog = framework_documents(framework)["catalog.json"]
    statements = {part(c, "statement")["id"] for c in catalog_controls(catalog).values()}
    targets = {f["target"]["target-id"] for f in result["findings"]}
    assert targets <= statements and len(targets) == 4
    assert all(f["target"]["type"] == "statement-id" for f in result["findings"])
    selected = result["reviewed-controls"]["control-selections"][0]["include-controls"]
    assert {s["control-id"] for s in selected} == {t.removesuffix("_smt") for t in targets}


def test_an_assessment_without_evidence_still_validates(api_data):
    _, (assessment, _folders, _items) = api_data
    document = assessment_results(assessment, [], {})
    validate(document)
    result = document["assessment-results"]["results"][0]
    assert "observations" not in result
    assert {f["target"]["status"]["reason"] for f in result["findings"]} <= {"other", "pass"}

"""Test data for the console: people, an assessment of the CIS benchmark, manual evidence
through the API (as a reviewer adds it) and automated-looking compliance checks appended to the
ledger (as the collection runner would file them) over two weeks."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import httpx

from assay.service.ledger import EvidenceDraft, day_of

ACCOUNTS = ["111122223333", "444455556666"]
DAY = 86400


@dataclass
class World:
    assessment_id: str
    framework_id: str
    sets: list[str]            # control set ids, in order
    delegated_set: str         # the set delegated to `delegate`
    other_set: str             # a set not delegated to `delegate`
    control: dict              # {"set", "id", "name"}: a control of the delegated set with evidence
    other_control: dict        # a control of the other set
    owner: object
    delegate: object
    auditor: object


def _security_hub(control_id: str, finding: str, account: str, result: str, when: float) -> dict:
    resource = f"arn:aws:iam::{account}:root" if finding.startswith("IAM") else \
        f"arn:aws:s3:::audit-logs-{account}"
    return {
        "dataSource": "AWS Security Hub", "sourceType": "AWS_Security_Hub", "keyword": finding,
        "region": "us-east-1", "eventSource": "securityhub.amazonaws.com", "eventName": finding,
        "evidenceByType": "Compliance check", "iamId": None, "awsAccountId": ACCOUNTS[0],
        "evidenceAwsAccountId": account, "awsOrganization": None, "time": when,
        "resourcesIncluded": [{"arn": resource, "value": resource, "complianceCheck": result}],
        "attributes": {"findingId": f"{finding}/{account}", "title": f"{finding} control check",
                       "severity": "HIGH" if result == "FAILED" else "INFORMATIONAL"},
        "complianceCheck": result, "identity": f"{finding}|{account}|{int(when)}",
        "payload": {"Compliance": {"Status": result}, "GeneratorId": f"security-control/{finding}"},
    }


def _config(rule: str, account: str, result: str, when: float) -> dict:
    return {
        "dataSource": "AWS Config", "sourceType": "AWS_Config", "keyword": rule,
        "region": "us-east-1", "eventSource": "config.amazonaws.com", "eventName": rule,
        "evidenceByType": "Compliance check", "iamId": None, "awsAccountId": ACCOUNTS[0],
        "evidenceAwsAccountId": account, "awsOrganization": None, "time": when,
        "resourcesIncluded": [{"value": f"{account}", "complianceCheck": result}],
        "attributes": {"configRuleName": rule}, "complianceCheck": result,
        "identity": f"{rule}|{account}|{int(when)}", "payload": {"ComplianceType": result},
    }


def seed(server, days: int = 14) -> World:
    admin = server.client()
    owner = server.identity("process-owner", "olivia")
    delegate = server.identity("delegate", "dan")
    auditor = server.identity("auditor", "ava")
    server.identity("delegate", "erin")
    frameworks = admin.list_assessment_frameworks(frameworkType="Standard")["frameworkMetadataList"]
    cis = next(f for f in frameworks if f["name"].startswith("CIS AWS Foundations"))
    # strict=False: the CIS description is longer than the model allows in
    # assessment.framework.metadata.description (a service issue, not the console's).
    owner_client = server.client(owner, strict=False)
    assessment = owner_client.create_assessment(
        name="FY26 CIS AWS review", description="Yearly review of the CIS AWS Foundations "
        "Benchmark across the production accounts.", frameworkId=cis["id"],
        scope={"awsAccounts": [{"id": a} for a in ACCOUNTS]},
        roles=[{"roleType": "PROCESS_OWNER", "roleArn": owner.arn}],
        assessmentReportsDestination={})["assessment"]
    aid = assessment["metadata"]["id"]
    sets = assessment["framework"]["controlSets"]
    delegated, other = sets[0], sets[1]
    owner_client.batch_create_delegation_by_assessment(assessmentId=aid, createDelegationRequests=[
        {"controlSetId": delegated["id"], "roleArn": delegate.arn, "roleType": "RESOURCE_OWNER",
         "comment": "Please review identity and access this quarter."}])

    # Automated-looking compliance checks, per day, for every control with a Security Hub or
    # Config source: a few keep failing, most pass, some recover.
    rng = random.Random(7)
    services = server.services
    now = time.time()
    drafts = []
    for control_set in sets:
        for control in control_set["controls"]:
            standard = services.library.controls.get(control["id"])
            if standard is None:
                continue
            hub = [s["sourceKeyword"]["keywordValue"] for s in standard.mapping_sources
                   if s["sourceType"] == "AWS_Security_Hub"][:1]
            config = [s["sourceKeyword"]["keywordValue"] for s in standard.mapping_sources
                      if s["sourceType"] == "AWS_Config"][:1]
            flaky = rng.random()
            for back in range(days):
                when = now - back * DAY - 3600
                day = day_of(when)
                for account in ACCOUNTS:
                    failing = flaky < 0.25 or (flaky < 0.45 and back > days // 2)
                    result = "FAILED" if failing and rng.random() < 0.8 else "PASSED"
                    for finding in hub:
                        record = _security_hub(control["id"], finding, account, result, when)
                        drafts.append(EvidenceDraft(aid, control_set["id"], control["id"], day,
                                                    record["identity"], record))
                    for rule in config:
                        verdict = "NON_COMPLIANT" if result == "FAILED" else "COMPLIANT"
                        record = _config(rule, account, verdict, when)
                        drafts.append(EvidenceDraft(aid, control_set["id"], control["id"], day,
                                                    record["identity"], record))
    with services.store.write() as conn:
        services.ledger.append(conn, drafts, author="Assay collection")

    # Manual evidence, through the API, by the delegate on a control of its set.
    control = next(c for c in delegated["controls"]
                   if any(s["sourceType"] == "AWS_Security_Hub"
                          for s in services.library.controls[c["id"]].mapping_sources))
    delegate_client = server.client(delegate, strict=False)
    upload = delegate_client.get_evidence_file_upload_url(fileName="root-mfa-policy.pdf")
    policy = b"%PDF-1.4 root account MFA policy\n" * 200
    httpx.put(upload["uploadUrl"], content=policy).raise_for_status()
    errors = delegate_client.batch_import_evidence_to_assessment_control(
        assessmentId=aid, controlSetId=delegated["id"], controlId=control["id"],
        manualEvidence=[{"evidenceFileName": upload["evidenceFileName"]},
                        {"textResponse": "Root user MFA is a hardware key kept in the safe; "
                                         "reviewed with the CISO on 2026-11-20."}])["errors"]
    assert not errors, errors
    delegate_client.update_assessment_control(
        assessmentId=aid, controlSetId=delegated["id"], controlId=control["id"],
        commentBody="Checked the findings: the two failing accounts are being fixed.")
    return World(aid, cis["id"], [s["id"] for s in sets], delegated["id"], other["id"],
                 {"set": delegated["id"], "id": control["id"], "name": control["name"]},
                 {"set": other["id"], "id": other["controls"][0]["id"],
                  "name": other["controls"][0]["name"]},
                 owner, delegate, auditor)

"""What real Audit Manager clients do (issue 14), through boto3 and the `assay` command against
a live server. Each expected value names where AWS's behaviour is documented. The evidence
shapes (cases 2 and 3) are tested where evidence is collected, in test_collection.py; the
settings' kmsKey (case 9) where reports are written to S3, in test_reports_s3.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa
from botocore.exceptions import ClientError
from support import Identity, backends, database_url, moto_aws, walk

from assay.config import load_settings
from assay.service import open_services
from assay.store import Store, tables

ASSAY = str(Path(sys.executable).with_name("assay"))
MANUAL = [{"sourceName": "m", "sourceType": "MANUAL"}]


def error(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response


def assay(server, *args, check=True) -> subprocess.CompletedProcess:
    """The `assay` command on the server's own home and database."""
    env = {**os.environ, "ASSAY_HOME": str(server.home),
           "ASSAY_DB_URL": server.services.settings.database_url,
           "ASSAY_ACCOUNT_ID": server.services.account_id}
    done = subprocess.run([ASSAY, *args], capture_output=True, text=True, timeout=120, env=env)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def principal(server, kind: str = "role", name: str | None = None) -> str:
    return f"arn:aws:iam::{server.services.account_id}:{kind}/{name or uuid.uuid4().hex[:10]}"


def new_assessment(admin, owner_arn: str, sets=("Access", "Logging"), roles=None) -> tuple[str, str]:
    control = admin.create_control(name=f"c-{uuid.uuid4().hex[:8]}",
                                   controlMappingSources=MANUAL)["control"]
    framework = admin.create_assessment_framework(name=f"f-{uuid.uuid4().hex[:8]}", controlSets=[
        {"name": name, "controls": [{"id": control["id"]}]} for name in sets])["framework"]
    created = admin.create_assessment(
        name=f"a-{uuid.uuid4().hex[:8]}", frameworkId=framework["id"],
        scope={"awsAccounts": [{"id": "111122223333"}]},
        roles=roles or [{"roleType": "PROCESS_OWNER", "roleArn": owner_arn}],
        assessmentReportsDestination={})["assessment"]
    return created["metadata"]["id"], control["id"]


# -- case 1: a folder id in the control-set slot -------------------------------------------------


def test_folder_id_is_accepted_where_the_control_set_id_goes(server, admin):
    assessment_id, control_id = new_assessment(admin, server.admin.arn)
    for control_set in ("Access", "Logging"):
        admin.batch_import_evidence_to_assessment_control(
            assessmentId=assessment_id, controlSetId=control_set, controlId=control_id,
            manualEvidence=[{"textResponse": f"{control_set} is reviewed."}])
    folders = {f["controlSetId"]: f for f in walk(admin.get_evidence_folders_by_assessment,
                                                   "evidenceFolders", assessmentId=assessment_id)}
    folder = folders["Access"]
    # AWS's published example passes the folder's own id as controlSetId
    # (awsdocs/aws-doc-sdk-examples, python/example_code/auditmanager/
    # create_assessment_report.py, AuditReport.clear_staging).
    by_folder_id = admin.get_evidence_by_evidence_folder(
        assessmentId=assessment_id, controlSetId=folder["id"], evidenceFolderId=folder["id"])
    by_set_id = admin.get_evidence_by_evidence_folder(
        assessmentId=assessment_id, controlSetId="Access", evidenceFolderId=folder["id"])
    assert by_folder_id["evidence"] == by_set_id["evidence"] and len(by_set_id["evidence"]) == 1
    # Every operation with both path members resolves the folder the same way.
    assert admin.get_evidence_folder(assessmentId=assessment_id, controlSetId=folder["id"],
                                     evidenceFolderId=folder["id"])["evidenceFolder"] == \
        admin.get_evidence_folder(assessmentId=assessment_id, controlSetId="Access",
                                  evidenceFolderId=folder["id"])["evidenceFolder"]
    evidence_id = by_set_id["evidence"][0]["id"]
    assert admin.get_evidence(assessmentId=assessment_id, controlSetId=folder["id"],
                              evidenceFolderId=folder["id"], evidenceId=evidence_id
                              )["evidence"]["id"] == evidence_id
    # Anything else in the slot (another control set, another folder's id) is not found.
    for wrong in ("Logging", folders["Logging"]["id"]):
        response = error(admin.get_evidence_by_evidence_folder, assessmentId=assessment_id,
                         controlSetId=wrong, evidenceFolderId=folder["id"])
        assert response["Error"]["Code"] == "ResourceNotFoundException"

    # Rights are checked against the folder's real control set, whatever the slot says.
    delegate = server.identity("delegate")
    admin.batch_create_delegation_by_assessment(assessmentId=assessment_id, createDelegationRequests=[
        {"controlSetId": "Logging", "roleArn": delegate.arn, "roleType": "RESOURCE_OWNER"}])
    as_delegate = server.client(delegate)
    logging = folders["Logging"]
    assert len(as_delegate.get_evidence_by_evidence_folder(
        assessmentId=assessment_id, controlSetId=logging["id"],
        evidenceFolderId=logging["id"])["evidence"]) == 1
    for call, extra in ((as_delegate.get_evidence_by_evidence_folder, {}),
                        (as_delegate.get_evidence_folder, {}),
                        (as_delegate.get_evidence, {"evidenceId": evidence_id})):
        response = error(call, assessmentId=assessment_id, controlSetId=folder["id"],
                         evidenceFolderId=folder["id"], **extra)
        assert response["Error"]["Code"] == "AccessDeniedException"


# -- case 4: keywords that differ only in letter case ---------------------------------------------


def test_keyword_in_another_letter_case_is_taken_in_its_canonical_case(server, admin):
    sources = [
        {"sourceName": "users", "sourceType": "AWS_API_Call",
         "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": "IAM_LISTUSERS"}},
        {"sourceName": "contacts", "sourceType": "AWS_Security_Hub",
         "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": "ACCOUNT.2"}},
        {"sourceName": "exact", "sourceType": "AWS_Config",
         "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST",
                           "keywordValue": "IAM_PASSWORD_POLICY"}},
    ]
    control = admin.create_control(name=f"case-{uuid.uuid4().hex[:8]}",
                                   controlMappingSources=sources)["control"]
    assert [s["sourceKeyword"]["keywordValue"] for s in control["controlMappingSources"]] == [
        "iam_ListUsers", "Account.2", "IAM_PASSWORD_POLICY"]
    # The list AWS and Assay accept keywords from has them in that case only.
    assert "iam_ListUsers" in walk(admin.list_keywords_for_data_source, "keywords",
                                   source="AWS_API_Call", page_size=1000)
    history = server.services.controls.history(server.services.system(), control["id"])
    corrections = [h["detail"] for h in history if h["action"] == "KEYWORD_CORRECTED"]
    assert corrections == [
        "controlMappingSources[0].sourceKeyword.keywordValue: 'IAM_LISTUSERS' was taken as the "
        "AWS_API_Call keyword 'iam_ListUsers' (same keyword, canonical letter case)",
        "controlMappingSources[1].sourceKeyword.keywordValue: 'ACCOUNT.2' was taken as the "
        "AWS_Security_Hub keyword 'Account.2' (same keyword, canonical letter case)"]
    assert all(h["createdBy"] == server.admin.arn for h in history)

    # A keyword matching nothing in any case is still refused, and nothing is created.
    before = len(walk(admin.list_controls, "controlMetadataList", controlType="Custom"))
    response = error(admin.create_control, name="typo", controlMappingSources=[
        {**sources[0], "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST",
                                         "keywordValue": "IAM_LISTUSER"}}])
    assert response["fields"][0]["name"] == \
        "controlMappingSources[0].sourceKeyword.keywordValue"
    assert "Did you mean: iam_ListUsers" in response["fields"][0]["message"]
    assert len(walk(admin.list_controls, "controlMetadataList", controlType="Custom")) == before


def test_assay_apply_says_which_keywords_it_took_in_another_case(server, tmp_path):
    library = tmp_path / "library.yaml"
    library.write_text(textwrap.dedent(f"""\
        controls:
          - name: Console sign-ins {uuid.uuid4().hex[:6]}
            controlMappingSources:
              - sourceName: sign-ins
                sourceType: AWS_Cloudtrail
                sourceKeyword: {{keywordInputType: SELECT_FROM_LIST, keywordValue: SIGNIN_CONSOLELOGIN}}
        """))
    key = server.identity("admin")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": key.key_id, "AWS_SECRET_ACCESS_KEY": key.secret,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    done = subprocess.run([ASSAY, "apply", str(library), "--endpoint-url", server.url],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert "'SIGNIN_CONSOLELOGIN' was taken as the AWS_Cloudtrail keyword 'signin_ConsoleLogin'" \
        in " ".join(done.stderr.split())
    again = subprocess.run([ASSAY, "apply", str(library), "--endpoint-url", server.url],
                           capture_output=True, text=True, timeout=120, env=env)
    assert "No changes" in again.stdout  # the canonical keyword is what the file means


# -- case 5: principals that are not keys -------------------------------------------------------


def test_any_role_or_user_of_the_account_may_be_named(server, admin):
    owner = principal(server, "role", "AuditOwner")
    reviewer = principal(server, "user", "alice")
    assessment_id, _ = new_assessment(admin, owner, roles=[
        {"roleType": "PROCESS_OWNER", "roleArn": owner},
        {"roleType": "PROCESS_OWNER", "roleArn": server.admin.arn}])
    created = admin.batch_create_delegation_by_assessment(
        assessmentId=assessment_id, createDelegationRequests=[
            {"controlSetId": "Access", "roleArn": reviewer, "roleType": "RESOURCE_OWNER"}])
    assert created["errors"] == [] and created["delegations"][0]["roleArn"] == reviewer
    settings = admin.update_settings(defaultProcessOwners=[
        {"roleType": "PROCESS_OWNER", "roleArn": owner}])["settings"]
    assert settings["defaultProcessOwners"] == [{"roleType": "PROCESS_OWNER", "roleArn": owner}]
    admin.update_settings(defaultProcessOwners=[])
    framework_id = admin.get_assessment(assessmentId=assessment_id)["assessment"]["framework"]["id"]
    # Not a principal of this instance: another account, or not an IAM role or user ARN.
    for bad in (f"arn:aws:iam::{'1' * 12 if server.services.account_id != '1' * 12 else '2' * 12}"
                f":role/AuditOwner", f"arn:aws:iam::{server.services.account_id}:group/admins",
                f"arn:aws:sts::{server.services.account_id}:assumed-role/AuditOwner/s"):
        response = error(admin.create_assessment, name="x", frameworkId=framework_id,
                         scope={"awsAccounts": [{"id": "111122223333"}]},
                         roles=[{"roleType": "PROCESS_OWNER", "roleArn": bad}],
                         assessmentReportsDestination={})
        assert response["fields"][0]["name"] == "roles[0].roleArn"
        response = error(admin.update_settings, defaultProcessOwners=[
            {"roleType": "PROCESS_OWNER", "roleArn": bad}])
        assert response["fields"][0]["name"] == "defaultProcessOwners[0].roleArn"


def test_keys_issued_to_a_principal_act_as_it(server, admin):
    owner = principal(server, "role", f"Owner{uuid.uuid4().hex[:6]}")
    assessment_id, _ = new_assessment(admin, owner)
    keys = [json.loads(assay(server, "keys", "create", "--arn", owner, "--role", "process-owner",
                             "--json").stdout) for _ in range(2)]
    assert [k["Arn"] for k in keys] == [owner, owner] and keys[0]["AccessKeyId"] != keys[1]["AccessKeyId"]
    for n, key in enumerate(keys):
        client = server.client(Identity(key["AccessKeyId"], key["SecretAccessKey"], owner,
                                        "process-owner", f"k{n}"))
        # Whoever signs acts as the principal: it is this assessment's process owner.
        got = client.get_assessment(assessmentId=assessment_id)
        assert got["userRole"] == {"roleType": "PROCESS_OWNER", "roleArn": owner}
        client.update_assessment(assessmentId=assessment_id,
                                 scope={"awsAccounts": [{"id": "111122223333"}]},
                                 roles=[{"roleType": "PROCESS_OWNER", "roleArn": owner}])
    listed = json.loads(assay(server, "keys", "list", "--json").stdout)
    assert sum(1 for k in listed if k["Arn"] == owner) == 2
    # One role per principal, whichever key signs.
    refused = assay(server, "keys", "create", "--arn", owner, "--role", "admin", check=False)
    assert refused.returncode == 1 and "same role" in refused.stderr
    foreign = assay(server, "keys", "create", "--arn", "arn:aws:iam::000000000000:role/x",
                    "--role", "auditor", check=False)
    assert foreign.returncode == 1 and "belongs to account 000000000000" in foreign.stderr
    # Without --arn, a key is its own principal, as before.
    plain = json.loads(assay(server, "keys", "create", "--name", f"plain-{uuid.uuid4().hex[:6]}",
                             "--role", "auditor", "--json").stdout)
    assert plain["Arn"].endswith(f":role/{plain['Arn'].rsplit('/', 1)[-1]}")


@pytest.mark.parametrize("backend", backends())
def test_keys_made_before_principals_keep_acting_as_their_role(backend, tmp_path):
    """Migration: a key stored by revision 0005 (no principal) acts as role/<key name>."""
    url, database = database_url(backend, tmp_path)
    store = Store(url)
    try:
        store.upgrade("0005")
        with store.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO access_keys (access_key_id, name, role, secret_encrypted, created_at)"
                " VALUES ('AKASOLDKEY0000000000', 'legacy', 'process-owner', 'x', 1.0)"))
        store.dispose()
        services = open_services(load_settings(tmp_path, db_url=url, account_id="444455556666"))
        try:
            legacy = next(k for k in services.keys.list() if k.name == "legacy")
            assert legacy.arn == "arn:aws:iam::444455556666:role/legacy"
            with services.store.read() as conn:
                stored = conn.execute(sa.select(tables.access_keys.c.principal_arn).where(
                    tables.access_keys.c.name == "legacy")).scalar_one()
            assert stored == legacy.arn
        finally:
            services.close()
    finally:
        if database is not None:
            database.drop()


def test_a_caller_for_a_principal_and_role(server):
    """What a sign-in that maps claims to a principal and a role (the console's SSO) builds."""
    from assay.service.auth import principal_caller
    from assay.service.errors import ValidationError

    owner = principal(server, "user", "bob")
    caller = principal_caller(owner, "auditor", "eu-west-1")
    assert (caller.arn, caller.role, caller.name, caller.key_id) == (owner, "auditor", "bob", "")
    with pytest.raises(ValidationError):
        principal_caller(owner, "root", "eu-west-1")


# -- case 6: default process owners on update ---------------------------------------------------


def test_update_keeps_the_default_process_owners(server, admin):
    default_owner = principal(server, "role", "ComplianceLead")
    admin.update_settings(defaultProcessOwners=[
        {"roleType": "PROCESS_OWNER", "roleArn": default_owner}])
    try:
        assessment_id, _ = new_assessment(admin, server.admin.arn)
        # AWS adds the settings' default process owners to the roles sent, on create
        # (CreateAssessment) and on update (UpdateAssessment), as Terraform sends roles on
        # every update: AssessmentMetadata.roles lists both.
        updated = admin.update_assessment(
            assessmentId=assessment_id, scope={"awsAccounts": [{"id": "111122223333"}]},
            roles=[{"roleType": "PROCESS_OWNER", "roleArn": server.admin.arn}])["assessment"]
        assert {r["roleArn"] for r in updated["metadata"]["roles"]} == {server.admin.arn,
                                                                         default_owner}
    finally:
        admin.update_settings(defaultProcessOwners=[])


# -- case 8: members the model marks deprecated ---------------------------------------------------


def test_deprecated_members_are_returned_as_aws_does(server, admin):
    assessment_id, control_id = new_assessment(admin, server.admin.arn)
    # Scope.awsServices: "This API parameter is no longer supported. If you use this parameter
    # to specify one or more AWS services, Audit Manager ignores this input. Instead, the value
    # for awsServices will show as empty." (auditmanager service model, Scope)
    updated = admin.update_assessment(assessmentId=assessment_id, scope={
        "awsAccounts": [{"id": "111122223333"}], "awsServices": [{"serviceName": "s3"}]})
    assert updated["assessment"]["metadata"]["scope"]["awsServices"] == []
    got = admin.get_assessment(assessmentId=assessment_id)["assessment"]
    assert got["metadata"]["scope"] == {"awsAccounts": [{"id": "111122223333"}], "awsServices": []}
    # AssessmentControl.description and Framework.controlSources are deprecated in the model:
    # not returned.
    control = got["framework"]["controlSets"][0]["controls"][0]
    assert control["id"] == control_id and "description" not in control
    framework = admin.get_assessment_framework(frameworkId=walk(
        admin.list_assessment_frameworks, "frameworkMetadataList", frameworkType="Custom")[0]["id"])
    assert "controlSources" not in framework["framework"]


# -- case 7: the delegated administrator ----------------------------------------------------------


@pytest.fixture
def organization():
    """Assay's AWS credentials in an organization (moto): the management account and a member."""
    with moto_aws(Organizations=True) as url:
        # moto keeps its state per process, across servers: start from none.
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).close()
        client = boto3.client("organizations")
        organization = client.create_organization(FeatureSet="ALL")["Organization"]
        members = [client.create_account(AccountName=f"m{n}", Email=f"m{n}@example.com")[
            "CreateAccountStatus"]["AccountId"] for n in range(2)]
        yield organization, members


def test_delegated_administrator_must_be_a_member(server, admin, organization):
    org, (member, other) = organization
    assert admin.get_organization_admin_account().get("adminAccountId") is None
    # "Enables an AWS account within the organization as the delegated administrator"
    # (API reference, RegisterOrganizationAdminAccount): not an outsider, not the management
    # account.
    for outsider in ("999999999999", org["MasterAccountId"]):
        response = error(admin.register_organization_admin_account, adminAccountId=outsider)
        assert response["Error"]["Code"] == "ValidationException"
        assert response["fields"][0]["name"] == "adminAccountId"
    assert admin.get_organization_admin_account().get("adminAccountId") is None

    registered = admin.register_organization_admin_account(adminAccountId=member)
    assert registered == {"adminAccountId": member, "organizationId": org["Id"],
                          "ResponseMetadata": registered["ResponseMetadata"]}
    # The same account again changes nothing.
    assert admin.register_organization_admin_account(adminAccountId=member)["adminAccountId"] == member
    assert admin.get_settings(attribute="IS_AWS_ORG_ENABLED")["settings"] == {"isAwsOrgEnabled": True}
    # Changing it is two steps, "First, you need to remove the current delegated administrator
    # account. Then, you can add a new account" (user guide, Changing a delegated administrator).
    response = error(admin.register_organization_admin_account, adminAccountId=other)
    assert response["fields"][0]["name"] == "adminAccountId"
    assert "DeregisterOrganizationAdminAccount" in response["fields"][0]["message"]
    assert admin.get_organization_admin_account()["adminAccountId"] == member
    assert error(admin.deregister_organization_admin_account,
                 adminAccountId=other)["Error"]["Code"] == "ValidationException"
    admin.deregister_organization_admin_account(adminAccountId=member)
    assert admin.register_organization_admin_account(adminAccountId=other)["adminAccountId"] == other
    admin.deregister_organization_admin_account(adminAccountId=other)
    assert admin.get_organization_admin_account().get("adminAccountId") is None


def test_no_delegated_administrator_without_an_organization(admin):
    response = error(admin.register_organization_admin_account, adminAccountId="123456789012")
    assert response["fields"][0]["name"] == "adminAccountId"
    assert "not in an AWS Organization" in response["fields"][0]["message"]

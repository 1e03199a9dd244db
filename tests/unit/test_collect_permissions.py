"""The member-account role's permissions: generated from the collectors and the library, and the
copies in docs/iam/ kept in step."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from assay.collect import api_call, permissions
from collect_fixtures.aws import moto, moto_endpoint, moto_target  # noqa: F401  (fixtures)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "iam"
REGENERATE = ("out of date: run `python -m assay.collect.permissions policy > "
              "docs/iam/assay-member-role-policy.json` and `... template > "
              "docs/iam/assay-member-role.yaml`")


def actions(policy: dict) -> set[str]:
    found: set[str] = set()
    for statement in policy["Statement"]:
        listed = statement["Action"]
        found.update([listed] if isinstance(listed, str) else listed)
    return found


def test_docs_policy_and_template_are_generated_from_the_code():
    assert (DOCS / "assay-member-role-policy.json").read_text() == permissions.render_policy(), REGENERATE
    assert (DOCS / "assay-member-role.yaml").read_text() == permissions.render_template(), REGENERATE


def test_policy_grants_exactly_the_reads_collectors_make():
    keywords = permissions.shipped_api_call_keywords()
    assert "iam_ListUsers" in keywords and "s3_ListBuckets" in keywords
    granted = actions(permissions.member_role_policy())
    expected = ({a for source in permissions.SOURCE_ACTIONS.values() for a in source}
                | {"s3:ListBucket", "s3:GetObject"} | set(api_call.iam_actions(keywords)))
    assert granted == expected
    assert all(a.split(":", 1)[1].startswith(("List", "Describe", "Get", "LookupEvents"))
               for a in granted)


def test_iam_actions_follow_iam_naming():
    assert api_call.iam_action("iam_ListUsers") == "iam:ListUsers"
    assert api_call.iam_action("s3_ListBuckets") == "s3:ListAllMyBuckets"
    assert api_call.iam_action("cloudwatch_DescribeAlarms") == "cloudwatch:DescribeAlarms"
    assert api_call.iam_action("elbv2_DescribeSSLPolicies") == "elasticloadbalancing:DescribeSSLPolicies"
    assert api_call.iam_action("resourcegroupstaggingapi_GetResources") == "tag:GetResources"


def test_trail_statements_scope_to_the_trail_logs():
    policy = permissions.member_role_policy([], trail_bucket="org-trail", trail_prefix="/trail/")
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["CloudTrailLogFilesRead"]["Resource"] == "arn:aws:s3:::org-trail/trail/AWSLogs/*"
    assert by_sid["CloudTrailLogFilesList"]["Condition"] == {
        "StringLike": {"s3:prefix": ["trail/AWSLogs/*"]}}
    bare = permissions.member_role_policy([], trail_bucket="org-trail", trail_prefix="")
    assert {s["Sid"]: s for s in bare["Statement"]}["CloudTrailLogFilesRead"]["Resource"] == \
        "arn:aws:s3:::org-trail/AWSLogs/*"


def test_template_role_trusts_the_assay_principal_with_an_external_id():
    template = yaml.safe_load((DOCS / "assay-member-role.yaml").read_text())
    role = template["Resources"]["AssayMemberRole"]["Properties"]
    assert role["RoleName"] == {"Ref": "RoleName"}
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": {"Ref": "AssayPrincipalArn"}}
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}}
    assert template["Parameters"]["RoleName"]["Default"] == permissions.DEFAULT_ROLE_NAME
    inline = [p for p in role["Policies"] if "PolicyName" in p]
    granted = set().union(*(actions(p["PolicyDocument"]) for p in inline))
    assert granted == set(api_call.iam_actions(permissions.shipped_api_call_keywords())) | {
        a for source in permissions.SOURCE_ACTIONS.values() for a in source}


def test_policy_is_accepted_by_iam(moto):
    iam = moto_target(moto).client("iam")
    document = (DOCS / "assay-member-role-policy.json").read_text()
    created = iam.create_policy(PolicyName="assay-member", PolicyDocument=document)
    assert created["Policy"]["Arn"].endswith(":policy/assay-member")


def test_template_passes_cfn_lint():
    # cfn-lint comes with the test dependencies, beside this interpreter.
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), str(DOCS / "assay-member-role.yaml")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr

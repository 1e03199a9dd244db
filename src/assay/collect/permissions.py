"""The IAM permissions collectors need in a member account, as data.

``member_role_policy()`` is exactly the reads the collectors make: the Config, Security Hub and
CloudTrail calls, the trail's log files in S3, and the API calls that the shipped frameworks'
AWS_API_Call sources name. ``member_role_template()`` is a CloudFormation template creating the
role (``ASSAY_MEMBER_ROLE``) with that policy, trusting the Assay principal with an ExternalId.

docs/iam/ holds both, generated from here (a test keeps them in step with the library)::

    python -m assay.collect.permissions policy   > docs/iam/assay-member-role-policy.json
    python -m assay.collect.permissions template > docs/iam/assay-member-role.yaml
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from .api_call import iam_actions

LIBRARY_DATA = Path(__file__).resolve().parent.parent / "library" / "data"
DEFAULT_ROLE_NAME = "AssayMemberRole"

# The calls each evidence source makes (API_Call sources add their own operation).
SOURCE_ACTIONS = {
    "AWS_Config": ["config:DescribeConfigRules", "config:GetComplianceDetailsByConfigRule"],
    "AWS_Security_Hub": ["securityhub:GetFindings"],
    "AWS_Cloudtrail": ["cloudtrail:LookupEvents"],
}


def shipped_api_call_keywords(data_dir: Path = LIBRARY_DATA) -> set[str]:
    """Every AWS_API_Call keyword that a shipped framework's controls name."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            keyword = node.get("sourceKeyword")
            if node.get("sourceType") == "AWS_API_Call" and isinstance(keyword, dict):
                found.add(keyword["keywordValue"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted(data_dir.glob("*.json")):
        walk(json.loads(path.read_text(encoding="utf-8")))
    return found


def _source_statements() -> list[dict[str, Any]]:
    return [
        {"Sid": "AwsConfigEvaluations", "Effect": "Allow",
         "Action": SOURCE_ACTIONS["AWS_Config"], "Resource": "*"},
        {"Sid": "SecurityHubFindings", "Effect": "Allow",
         "Action": SOURCE_ACTIONS["AWS_Security_Hub"], "Resource": "*"},
        {"Sid": "CloudTrailLookupEvents", "Effect": "Allow",
         "Action": SOURCE_ACTIONS["AWS_Cloudtrail"], "Resource": "*"},
    ]


def member_role_policy(api_call_keywords: Iterable[str] | None = None, *,
                       trail_bucket: str = "TRAIL-BUCKET",
                       trail_prefix: str = "TRAIL-PREFIX") -> dict[str, Any]:
    """The member-account role's policy document (placeholders for the trail bucket/prefix)."""
    keywords = shipped_api_call_keywords() if api_call_keywords is None else set(api_call_keywords)
    logs = f"{trail_prefix.strip('/')}/AWSLogs/" if trail_prefix.strip("/") else "AWSLogs/"
    return {
        "Version": "2012-10-17",
        "Statement": _source_statements() + [
            {"Sid": "CloudTrailLogFilesList", "Effect": "Allow", "Action": ["s3:ListBucket"],
             "Resource": f"arn:aws:s3:::{trail_bucket}",
             "Condition": {"StringLike": {"s3:prefix": [f"{logs}*"]}}},
            {"Sid": "CloudTrailLogFilesRead", "Effect": "Allow", "Action": ["s3:GetObject"],
             "Resource": f"arn:aws:s3:::{trail_bucket}/{logs}*"},
            {"Sid": "ApiCallSnapshots", "Effect": "Allow", "Action": iam_actions(keywords),
             "Resource": "*"},
        ],
    }


def member_role_template(api_call_keywords: Iterable[str] | None = None) -> dict[str, Any]:
    """CloudFormation template of the member-account role."""
    keywords = shipped_api_call_keywords() if api_call_keywords is None else set(api_call_keywords)
    logs_prefix = {"Fn::If": ["HasTrailPrefix", {"Fn::Sub": "${TrailKeyPrefix}/AWSLogs/"},
                              "AWSLogs/"]}
    no_value = {"Ref": "AWS::NoValue"}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Assay member-account role: read-only access to the evidence sources "
                       "Assay collects (AWS Config, Security Hub, CloudTrail, API snapshots).",
        "Parameters": {
            "RoleName": {
                "Type": "String", "Default": DEFAULT_ROLE_NAME,
                "AllowedPattern": r"[\w+=,.@-]{1,64}",
                "Description": "Name of the role; set ASSAY_MEMBER_ROLE to the same name.",
            },
            "AssayPrincipalArn": {
                "Type": "String",
                "AllowedPattern": r"arn:aws[a-z-]*:iam::\d{12}:(root|role/.+|user/.+)",
                "Description": "The IAM role or user that Assay runs as (it assumes this role).",
            },
            "ExternalId": {
                "Type": "String", "MinLength": 2, "MaxLength": 1224,
                "AllowedPattern": r"[\w+=,.@:/-]*",
                "Description": "ExternalId Assay sends when it assumes the role.",
            },
            "TrailBucketName": {
                "Type": "String", "Default": "",
                "Description": "Bucket holding the CloudTrail log files (ASSAY_CLOUDTRAIL_S3_URI); "
                               "empty to read CloudTrail through LookupEvents only.",
            },
            "TrailKeyPrefix": {
                "Type": "String", "Default": "",
                "Description": "The trail's S3 key prefix (the part before /AWSLogs/), if any.",
            },
            "TrailKmsKeyArn": {
                "Type": "String", "Default": "",
                "Description": "KMS key that encrypts the trail's log files, if SSE-KMS.",
            },
            "ManagedReadPolicy": {
                "Type": "String", "Default": "SecurityAudit",
                "AllowedValues": ["SecurityAudit", "ReadOnlyAccess", "None"],
                "Description": "AWS managed policy added for API_Call keywords beyond the shipped "
                               "frameworks (SecurityAudit: configuration metadata only; "
                               "ReadOnlyAccess also reads data; None: the explicit list only).",
            },
            "MaxSessionDuration": {
                "Type": "Number", "Default": 3600, "MinValue": 3600, "MaxValue": 43200,
                "Description": "Longest session Assay may hold, in seconds.",
            },
        },
        "Conditions": {
            "HasTrailBucket": {"Fn::Not": [{"Fn::Equals": [{"Ref": "TrailBucketName"}, ""]}]},
            "HasTrailPrefix": {"Fn::Not": [{"Fn::Equals": [{"Ref": "TrailKeyPrefix"}, ""]}]},
            "HasTrailKey": {"Fn::Not": [{"Fn::Equals": [{"Ref": "TrailKmsKeyArn"}, ""]}]},
            "HasManagedReadPolicy": {"Fn::Not": [{"Fn::Equals": [{"Ref": "ManagedReadPolicy"},
                                                                 "None"]}]},
        },
        "Resources": {
            "AssayMemberRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": {"Ref": "RoleName"},
                    "Description": "Assumed by Assay to collect audit evidence (read-only).",
                    "MaxSessionDuration": {"Ref": "MaxSessionDuration"},
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Effect": "Allow",
                            "Principal": {"AWS": {"Ref": "AssayPrincipalArn"}},
                            "Action": "sts:AssumeRole",
                            "Condition": {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}},
                        }],
                    },
                    "ManagedPolicyArns": {"Fn::If": [
                        "HasManagedReadPolicy",
                        [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/${ManagedReadPolicy}"}],
                        no_value,
                    ]},
                    "Policies": [
                        {"PolicyName": "AssayEvidenceSources",
                         "PolicyDocument": {"Version": "2012-10-17",
                                            "Statement": _source_statements()}},
                        {"PolicyName": "AssayApiCallSnapshots",
                         "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                             {"Sid": "ApiCallSnapshots", "Effect": "Allow",
                              "Action": iam_actions(keywords), "Resource": "*"}]}},
                        {"Fn::If": ["HasTrailBucket", {
                            "PolicyName": "AssayCloudTrailLogFiles",
                            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                                {"Sid": "List", "Effect": "Allow", "Action": "s3:ListBucket",
                                 "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${TrailBucketName}"},
                                 "Condition": {"StringLike": {
                                     "s3:prefix": {"Fn::Join": ["", [logs_prefix, "*"]]}}}},
                                {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject",
                                 "Resource": {"Fn::Join": ["", [
                                     {"Fn::Sub": "arn:${AWS::Partition}:s3:::${TrailBucketName}/"},
                                     logs_prefix, "*"]]}},
                                {"Fn::If": ["HasTrailKey", {
                                    "Sid": "Decrypt", "Effect": "Allow", "Action": "kms:Decrypt",
                                    "Resource": {"Ref": "TrailKmsKeyArn"},
                                    "Condition": {"StringLike": {
                                        "kms:ViaService": "s3.*.amazonaws.com"}}}, no_value]},
                            ]}}, no_value]},
                    ],
                },
            },
        },
        "Outputs": {
            "RoleArn": {"Description": "The role Assay assumes in this account.",
                        "Value": {"Fn::GetAtt": ["AssayMemberRole", "Arn"]}},
            "RoleName": {"Description": "Set ASSAY_MEMBER_ROLE to this name.",
                         "Value": {"Ref": "AssayMemberRole"}},
        },
    }


TEMPLATE_HEADER = """\
# Assay member-account role. Generated by `python -m assay.collect.permissions template`
# from src/assay/collect/permissions.py: edit that, not this file. See docs/collection.md.
#
# Deploy it in every account Assay collects from (a StackSet does all of an organization):
#   aws cloudformation deploy --template-file docs/iam/assay-member-role.yaml \\
#     --stack-name assay-member-role --capabilities CAPABILITY_NAMED_IAM \\
#     --parameter-overrides AssayPrincipalArn=arn:aws:iam::111122223333:role/assay \\
#       ExternalId=<your external id> TrailBucketName=<trail bucket> TrailKeyPrefix=<prefix>
"""


def render_policy() -> str:
    return json.dumps(member_role_policy(), indent=2) + "\n"


class _PlainDumper(yaml.SafeDumper):
    """No YAML anchors and aliases: CloudFormation readers should see every value in place."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render_template() -> str:
    body = yaml.dump(member_role_template(), Dumper=_PlainDumper, sort_keys=False, width=100,
                     default_flow_style=False)
    return TEMPLATE_HEADER + body


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    renders = {"policy": render_policy, "template": render_template}
    if len(args) != 1 or args[0] not in renders:
        print("usage: python -m assay.collect.permissions policy|template", file=sys.stderr)
        return 2
    sys.stdout.write(renders[args[0]]())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

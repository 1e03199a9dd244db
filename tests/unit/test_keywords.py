"""The keyword catalogues of the automated data source types (assay.library.keywords)."""
from __future__ import annotations

import dataclasses
import re

import pytest

from assay.library import keywords as kw

PATTERN = re.compile(r"^[a-zA-Z_0-9-\s().:\/]+$")


@pytest.mark.parametrize(
    "source_type, keyword",
    [
        ("AWS_API_Call", "iam_ListUsers"),
        ("AWS_API_Call", "ec2_DescribeSecurityGroups"),
        ("AWS_API_Call", "cloudtrail_DescribeTrails"),
        ("AWS_API_Call", "s3_ListBuckets"),
        ("AWS_API_Call", "iam_GetAccountPasswordPolicy"),
        ("AWS_API_Call", "iam_GetCredentialReport"),
        ("AWS_API_Call", "s3_GetObject"),
        ("AWS_API_Call", "elbv2_DescribeLoadBalancers"),
        ("AWS_API_Call", "sso-admin_ListInstances"),
        ("AWS_Cloudtrail", "iam_CreateUser"),
        ("AWS_Cloudtrail", "s3_PutBucketPolicy"),
        ("AWS_Cloudtrail", "ec2_RunInstances"),
        ("AWS_Cloudtrail", "signin_ConsoleLogin"),
        ("AWS_Cloudtrail", "signin_ExitRole"),
        ("AWS_Cloudtrail", "signin_SwitchRole"),
        ("AWS_Cloudtrail", "signin_CheckMfa"),
        ("AWS_Cloudtrail", "signin_RenewRole"),
        ("AWS_Cloudtrail", "sso_Authenticate"),
        ("AWS_Cloudtrail", "monitoring_PutMetricAlarm"),
        ("AWS_Cloudtrail", "elasticloadbalancing_CreateLoadBalancer"),
        ("AWS_Cloudtrail", "ses_SendEmail"),
        ("AWS_Config", "IAM_PASSWORD_POLICY"),
        ("AWS_Config", "CLOUD_TRAIL_ENABLED"),
        ("AWS_Security_Hub", "IAM.1"),
        ("AWS_Security_Hub", "S3.1"),
    ],
)
def test_known_keywords_are_valid(source_type, keyword):
    assert kw.is_valid_keyword(source_type, keyword)
    assert keyword in kw.keywords(source_type)


@pytest.mark.parametrize(
    "source_type, keyword",
    [
        ("AWS_API_Call", "iam_ListUser"),  # typo
        ("AWS_API_Call", "IAM_ListUsers"),  # keywords are case-sensitive
        ("AWS_API_Call", "iam_CreateUser"),  # not a read
        ("AWS_API_Call", "ec2_TerminateInstances"),
        ("AWS_API_Call", "sts_GetSessionToken"),  # issues credentials
        ("AWS_API_Call", "secretsmanager_GetSecretValue"),  # returns secret material
        ("AWS_API_Call", "ListUsers"),
        ("AWS_API_Call", ""),
        ("AWS_Cloudtrail", "iam_CreateUsers"),
        ("AWS_Cloudtrail", "cloudwatch_PutMetricAlarm"),  # event source is monitoring
        ("AWS_Cloudtrail", "signin_NotAnEvent"),
        ("AWS_Config", "IAM_PASWORD_POLICY"),
        ("AWS_Config", "iam-password-policy"),  # the rule name, not the identifier
        ("AWS_Security_Hub", "IAM.999"),
        ("AWS_Security_Hub", "iam.1"),
        ("MANUAL", "anything"),
        ("Not_A_Type", "iam_ListUsers"),
    ],
)
def test_invalid_keywords(source_type, keyword):
    assert not kw.is_valid_keyword(source_type, keyword)


def test_non_string_keyword_is_invalid():
    assert not kw.is_valid_keyword("AWS_API_Call", None)  # type: ignore[arg-type]
    assert not kw.is_valid_keyword("AWS_Security_Hub", 1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "source_type, typo, expected",
    [
        ("AWS_API_Call", "iam_ListUser", "iam_ListUsers"),
        ("AWS_API_Call", "iam_listusers", "iam_ListUsers"),
        ("AWS_API_Call", "IAM_ListUsers", "iam_ListUsers"),
        ("AWS_API_Call", "iamm_ListUsers", "iam_ListUsers"),
        ("AWS_API_Call", "ec2_DescribeSecurityGroup", "ec2_DescribeSecurityGroups"),
        ("AWS_API_Call", "cloudtrail_DescribeTrail", "cloudtrail_DescribeTrails"),
        ("AWS_Cloudtrail", "signin_ConsoleLogn", "signin_ConsoleLogin"),
        ("AWS_Cloudtrail", "ec2_RunInstance", "ec2_RunInstances"),
        ("AWS_Config", "IAM_PASWORD_POLICY", "IAM_PASSWORD_POLICY"),
        ("AWS_Config", "iam-password-policy", "IAM_PASSWORD_POLICY"),
        ("AWS_Security_Hub", "iam.1", "IAM.1"),
    ],
)
def test_suggestions_put_the_intended_keyword_first(source_type, typo, expected):
    suggestions = kw.suggest_keywords(source_type, typo)
    assert suggestions and suggestions[0] == expected
    assert all(kw.is_valid_keyword(source_type, s) for s in suggestions)
    assert len(suggestions) <= 3


def test_suggestions_without_service_prefix_find_the_operation():
    assert "iam_ListUsers" in kw.suggest_keywords("AWS_API_Call", "ListUsers", n=10)


def test_suggestions_respect_n_and_unknown_types():
    assert len(kw.suggest_keywords("AWS_API_Call", "ec2_DescribeInstance", n=5)) == 5
    assert kw.suggest_keywords("AWS_API_Call", "ec2_DescribeInstance", n=0) == []
    assert kw.suggest_keywords("MANUAL", "x") == []
    assert kw.suggest_keywords("AWS_API_Call", "") == []
    assert kw.suggest_keywords("AWS_API_Call", "zzzzzz_qqqqqqq") == []


@pytest.mark.parametrize(
    "keyword, valid",
    [
        ("Custom_my-rule", True),
        ("Custom_my_rule_2", True),
        ("Custom_" + "a" * 93, True),  # 100 characters: Audit Manager's keyword limit
        ("Custom_" + "a" * 94, False),
        ("Custom_", False),
        ("Custom_bad!name", False),
        ("Custom_has space", False),
        ("custom_my-rule", False),
    ],
)
def test_custom_config_rules(keyword, valid):
    assert kw.is_valid_keyword("AWS_Config", keyword) is valid
    assert keyword not in kw.keywords("AWS_Config")
    # Custom_ is only meaningful for AWS Config.
    assert not kw.is_valid_keyword("AWS_Security_Hub", keyword)


@pytest.mark.parametrize("source_type", kw.SOURCE_TYPES)
def test_every_keyword_matches_the_model_pattern_and_length(source_type):
    words = kw.keywords(source_type)
    assert words, source_type
    bad = [w for w in words if not (1 <= len(w) <= 100 and PATTERN.match(w))]
    assert bad == []
    assert words == sorted(words)
    assert len(set(words)) == len(words)
    assert kw.keywords(source_type) == words  # stable
    words.append("mutated")
    assert "mutated" not in kw.keywords(source_type)  # callers get a copy


def test_catalogue_sizes():
    counts = kw.catalogue_info()["counts"]
    assert counts["AWS_API_Call"] > 5000
    assert counts["AWS_Cloudtrail"] > counts["AWS_API_Call"]
    assert counts["AWS_Config"] == 836  # tools/library/sources/PROVENANCE.md, 2026-11-30
    assert counts["AWS_Security_Hub"] == 589  # active controls only: the 20 retired are refused
    assert not kw.is_valid_keyword("AWS_Security_Hub", "S3.4")  # retired 2023-09-20
    assert "botocore" in kw.catalogue_info()["provenance"]


def test_manual_and_unknown_types_have_no_keywords():
    assert kw.keywords("MANUAL") == []
    assert kw.keywords("AWS_Nothing") == []


def test_api_call_keywords_are_reads():
    for word in kw.keywords("AWS_API_Call"):
        _, operation = kw.api_call_target(word)
        assert operation.startswith(("List", "Describe", "Get")), word


def test_api_call_target():
    assert kw.api_call_target("iam_ListUsers") == ("iam", "ListUsers")
    assert kw.api_call_target("sso-admin_ListInstances") == ("sso-admin", "ListInstances")
    assert kw.api_call_target("elbv2_DescribeLoadBalancers") == ("elbv2", "DescribeLoadBalancers")
    with pytest.raises(KeyError):
        kw.api_call_target("iam_CreateUser")


def test_cloudtrail_event():
    assert kw.cloudtrail_event("iam_CreateUser") == ("iam.amazonaws.com", "CreateUser")
    assert kw.cloudtrail_event("signin_ConsoleLogin") == ("signin.amazonaws.com", "ConsoleLogin")
    assert kw.cloudtrail_event("s3_PutBucketPolicy") == ("s3.amazonaws.com", "PutBucketPolicy")
    assert kw.cloudtrail_event("monitoring_PutMetricAlarm") == ("monitoring.amazonaws.com", "PutMetricAlarm")
    with pytest.raises(KeyError):
        kw.cloudtrail_event("iam_NoSuchEvent")


def test_every_tsv_identifier_is_a_keyword():
    """Every Config rule and every active Security Hub control of the builders' sources
    (tools/library/sources) is a keyword; retired controls are not."""
    import csv
    from pathlib import Path

    sources = Path(__file__).resolve().parents[2] / "tools" / "library" / "sources"
    with open(sources / "aws-config-managed-rules.tsv", newline="") as f:
        rules = [r["identifier"] for r in csv.DictReader(f, delimiter="\t")]
    with open(sources / "aws-security-hub-controls.tsv", newline="") as f:
        hub = list(csv.DictReader(f, delimiter="\t"))
    assert all(kw.is_valid_keyword("AWS_Config", r) for r in rules)
    for row in hub:
        assert kw.is_valid_keyword("AWS_Security_Hub", row["control_id"]) == (row["status"] == "active")


def test_letter_case_matches_are_taken_only_when_unique(monkeypatch):
    """Issue 14 case 4: one case-insensitive match is taken in canonical case; a keyword that
    matches several ignoring case (or none) is refused with the field named."""
    from assay.model.controls import keyword_corrections, mapping_source_problems, normalised_source

    assert kw.case_matches("AWS_API_Call", "IAM_LISTUSERS") == ("iam_ListUsers",)
    assert kw.case_matches("AWS_Config", "CUSTOM_my-rule") == ("Custom_my-rule",)
    assert kw.case_matches("AWS_Security_Hub", "ACCOUNT.9") == ()
    real = kw._catalogue("AWS_Security_Hub")
    ambiguous = dataclasses.replace(real, keywords=real.keywords + ("ACCOUNT.1",),
                                    valid=real.valid | {"ACCOUNT.1"},
                                    same_case_free={**real.same_case_free,
                                                    "account.1": ("ACCOUNT.1", "Account.1")})
    monkeypatch.setattr(kw, "_catalogue",
                        lambda source_type: ambiguous if source_type == "AWS_Security_Hub" else real)
    source = {"sourceName": "s", "sourceType": "AWS_Security_Hub",
              "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": "account.1"}}
    problems = mapping_source_problems([source])
    assert problems == [{"name": "controlMappingSources[0].sourceKeyword.keywordValue",
                         "message": "'account.1' matches ACCOUNT.1, Account.1 ignoring letter "
                                    "case; give the one you mean, in its exact case."}]
    assert keyword_corrections([source]) == []
    assert normalised_source(source)["sourceKeyword"]["keywordValue"] == "account.1"

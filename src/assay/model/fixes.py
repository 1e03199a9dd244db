"""What to do about a collection failure, by its error code: the fix shown beside the error
wherever a control has no evidence because its source failed."""

from __future__ import annotations

_FIXES = {
    "ConfigRuleNotFound": "Deploy the AWS Config rule '{keyword}' in account {account} region "
                          "{region} (AWS Config console > Rules > Add rule), or record AWS Config "
                          "there; the next collection picks it up.",
    "NoSuchConfigRuleException": "Deploy the AWS Config rule '{keyword}' in account {account} "
                                 "region {region}.",
    "SecurityHubNotEnabled": "Enable AWS Security Hub and its security standards in account "
                             "{account} region {region}.",
    "InvalidAccessException": "Enable AWS Security Hub in account {account} region {region}.",
    "AccountNotInOrganization": "Remove account {account} from the assessment's scope, or invite "
                                "it into the organization.",
    "CloudTrailLogsNotFound": "Point cloudtrail_s3_uri at the trail's bucket and prefix, and "
                              "check the trail logs account {account}.",
    "NoSuchBucket": "Check cloudtrail_s3_uri: the bucket does not exist or Assay cannot see it.",
    "InvalidS3Uri": "Set cloudtrail_s3_uri to s3://bucket/prefix.",
    "UnknownOperation": "Change the control's source: '{keyword}' is not an operation AWS knows.",
    "OperationNotAllowed": "Change the control's source: '{keyword}' cannot be collected.",
    "OperationNotReadOnly": "Change the control's source: '{keyword}' is not a read-only call.",
    "UnknownEvent": "Change the control's source: '{keyword}' is not a CloudTrail event.",
}
_ACCESS = ("Give Assay's role in account {account} the permissions of "
           "docs/iam/assay-member-role.yaml (assay permissions prints them), and check its "
           "trust policy lets Assay assume it.")
_CREDENTIALS = "Check the AWS credentials Assay runs with: they are missing, wrong or expired."
_THROTTLE = "AWS throttled the calls: the next collection retries; lower collect_workers if it " \
            "persists."


def fix_for(error_code: str, keyword: str = "", account: str = "", region: str = "") -> str:
    """One sentence saying how to make the source produce evidence again."""
    template = _FIXES.get(error_code)
    if template is None:
        lowered = error_code.lower()
        if "accessdenied" in lowered or "unauthorized" in lowered or "forbidden" in lowered:
            template = _ACCESS
        elif "token" in lowered or "credential" in lowered or "signature" in lowered:
            template = _CREDENTIALS
        elif "throttl" in lowered or "toomanyrequests" in lowered or "ratelimit" in lowered:
            template = _THROTTLE
        else:
            template = ("Read the AWS error above; once fixed, run the collection again "
                        "(assay collect, or Collect now on the collection page).")
    return template.format(keyword=keyword, account=account, region=region)

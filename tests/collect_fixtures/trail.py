"""CloudTrail log files as CloudTrail writes them to S3.

Key: <prefix>/AWSLogs/[<org id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/
     <account>_CloudTrail_<region>_YYYYMMDDTHHmmZ_<16 chars>.json.gz
Body: gzip of {"Records": [<event record>, ...]}
(https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-examples.html)
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import uuid
from typing import Any

from .aws import ACCOUNT, REGION


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def iam_user(name: str = "alice", account: str = ACCOUNT) -> dict[str, Any]:
    return {"type": "IAMUser", "principalId": "AIDAEXAMPLEALICE1234",
            "arn": f"arn:aws:iam::{account}:user/{name}", "accountId": account,
            "accessKeyId": "AKIAEXAMPLE123456789", "userName": name}


def assumed_role(role: str = "Admin", session: str = "bob", account: str = ACCOUNT) -> dict[str, Any]:
    return {
        "type": "AssumedRole", "principalId": f"AROAEXAMPLEROLEID123:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}", "accountId": account,
        "accessKeyId": "ASIAEXAMPLE123456789",
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEROLEID123",
                              "arn": f"arn:aws:iam::{account}:role/{role}", "accountId": account,
                              "userName": role},
            "attributes": {"creationDate": "2026-01-01T00:00:00Z", "mfaAuthenticated": "true"},
        },
    }


def record(event_source: str, event_name: str, when: str, *, who: dict[str, Any] | None = None,
           event_id: str | None = None, region: str = REGION, account: str = ACCOUNT,
           error: str | None = None, resources: list[dict[str, str]] | None = None,
           **extra: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": who or iam_user(account=account),
        "eventTime": when,
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "aws-cli/2.15.0 Python/3.11",
        "requestParameters": extra.pop("requestParameters", None),
        "responseElements": extra.pop("responseElements", None),
        "requestID": str(uuid.uuid4()),
        "eventID": event_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"{event_name}{when}")),
        "readOnly": event_name.startswith(("Get", "List", "Describe")),
        "eventType": "AwsConsoleSignIn" if event_name == "ConsoleLogin" else "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    if error:
        rec["errorCode"] = error
        rec["errorMessage"] = f"{error} for {event_name}"
    if resources:
        rec["resources"] = resources
    rec.update(extra)
    return rec


def log_key(prefix: str, delivered: dt.datetime, *, account: str = ACCOUNT, region: str = REGION,
            org_id: str | None = None, unique: str | None = None) -> str:
    root = "/".join(p for p in (prefix.strip("/"), "AWSLogs", org_id, account) if p)
    unique = unique or hashlib.sha256(delivered.isoformat().encode()).hexdigest()[:16]
    return (f"{root}/CloudTrail/{region}/{delivered:%Y/%m/%d}/"
            f"{account}_CloudTrail_{region}_{delivered:%Y%m%dT%H%M}Z_{unique}.json.gz")


def put_log(s3: Any, bucket: str, key: str, records: list[dict[str, Any]]) -> None:
    body = gzip.compress(json.dumps({"Records": records}).encode("utf-8"))
    s3.put_object(Bucket=bucket, Key=key, Body=body)

"""Build src/assay/library/data/keywords.json.gz: the keyword catalogues of the four automated
Audit Manager data source types.

    .venv/bin/python tools/library/build_keywords.py

Inputs: botocore's service models (whatever botocore is installed when this runs; its version
is recorded in the output) and the fact tables in tools/library/sources. The runtime module
`assay.library.keywords` reads only the output file, so Assay does not depend on which botocore
is installed.

Rules (kept deliberately simple):
- AWS_API_Call: `<boto3 client name>_<Operation>` for every operation whose name starts with
  List, Describe or Get, except Get* operations that issue credentials or tokens or return
  secret material (see CREDENTIAL_WORDS): a collector must never store secrets as evidence.
  Downloads such as s3 GetObject stay in.
- AWS_Cloudtrail: `<event source prefix>_<EventName>` for every operation of every service,
  plus a short list of console/sign-in events that are not API operations. The prefix is the
  CloudTrail eventSource without ".amazonaws.com": the service's endpointPrefix, except where
  CloudTrail is known to log under another name (EVENT_SOURCE_OVERRIDES, and `api.X` /
  `<x>.sagemaker` endpoint prefixes, which CloudTrail logs as X / sagemaker).
- AWS_Config: the managed rule identifiers of aws-config-managed-rules.tsv. Custom rules
  (`Custom_<rule name>`) are accepted by the validator by pattern, not listed.
- AWS_Security_Hub: the control ids of aws-security-hub-controls.tsv.
Every keyword must match Audit Manager's keywordValue pattern and length (1..100); any that do
not are left out and listed under "dropped".
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import botocore

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

KEYWORD_RE = re.compile(r"^[a-zA-Z_0-9-\s().:\/]+$")
READ_PREFIX = re.compile(r"^(List|Describe|Get)(?=[A-Z0-9])")
CAMEL_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z][a-z0-9]*")
# A Get* operation that has one of these words in its name hands out credentials, tokens or
# secret values rather than describing configuration.
CREDENTIAL_WORDS = {"Credentials", "Token", "Tokens", "Password"}
# ... or one of these in its name (secret values, decrypted keys, SSH/stream keys).
CREDENTIAL_PARTS = ("SecretValue", "DecryptedAPIKey", "AccessDetails", "StreamKey")
CREDENTIAL_KEEP = {"GetAccountPasswordPolicy", "GetChangeTokenStatus", "GetTokenBalance"}

EVENT_SOURCE_OVERRIDES = {
    "email": "ses",  # SES v1/v2 and Pinpoint Email are logged as ses.amazonaws.com
    "s3-control": "s3",  # account-level S3 operations are logged as s3.amazonaws.com
    "portal.sso": "sso",  # IAM Identity Center portal operations
}
# Events CloudTrail records that are not operations of any botocore service model.
NON_API_EVENTS = {
    "signin": ["CheckMfa", "ConsoleLogin", "ExitRole", "GetSigninToken", "RenewRole", "SwitchRole"],
    "sso": ["Authenticate", "Federate", "Logout"],
}


def is_read_operation(name: str) -> bool:
    if not READ_PREFIX.match(name):
        return False
    if name.startswith("Get") and name not in CREDENTIAL_KEEP:
        words = set(CAMEL_WORD.findall(name))
        if words & CREDENTIAL_WORDS or any(part in name for part in CREDENTIAL_PARTS):
            return False
    return True


def event_source_prefix(endpoint_prefix: str) -> str:
    if endpoint_prefix in EVENT_SOURCE_OVERRIDES:
        return EVENT_SOURCE_OVERRIDES[endpoint_prefix]
    if endpoint_prefix.startswith("api.") and "." not in endpoint_prefix[4:]:
        return endpoint_prefix[4:]
    if endpoint_prefix.endswith(".sagemaker"):
        return "sagemaker"
    return endpoint_prefix


def build() -> dict:
    session = common.botocore_session()
    api: dict[str, list[str]] = {}
    trail: dict[str, set[str]] = {}
    dropped: list[str] = []

    def ok(keyword: str) -> bool:
        if 1 <= len(keyword) <= 100 and KEYWORD_RE.match(keyword):
            return True
        dropped.append(keyword)
        return False

    for client_name in sorted(session.get_available_services()):
        model = session.get_service_model(client_name)
        reads = sorted(
            op for op in model.operation_names if is_read_operation(op) and ok(f"{client_name}_{op}")
        )
        if reads:
            api[client_name] = reads
        prefix = event_source_prefix(model.endpoint_prefix)
        events = trail.setdefault(prefix, set())
        events.update(op for op in model.operation_names if ok(f"{prefix}_{op}"))
    for prefix, names in NON_API_EVENTS.items():
        trail.setdefault(prefix, set()).update(n for n in names if ok(f"{prefix}_{n}"))

    config_rows = common.read_tsv("aws-config-managed-rules.tsv")
    config = {r["identifier"]: r["rule_name"] for r in config_rows if ok(r["identifier"])}
    hub_rows = common.read_tsv("aws-security-hub-controls.tsv")
    # Retired controls produce no findings: a source naming one would collect nothing, so it is
    # not a keyword (custom controls and the library are both refused it).
    hub = sorted({r["control_id"] for r in hub_rows if r["status"] == "active" and ok(r["control_id"])},
                 key=_natural)

    return {
        "provenance": (
            f"Generated by tools/library/build_keywords.py from botocore {botocore.__version__} "
            "service models (AWS_API_Call, AWS_Cloudtrail) and tools/library/sources "
            "aws-config-managed-rules.tsv (AWS_Config) and aws-security-hub-controls.tsv "
            "(AWS_Security_Hub). Facts only: identifiers, no prose."
        ),
        "botocore_version": botocore.__version__,
        "rules": {
            "AWS_API_Call": "<boto3 client>_<Operation>; operations starting with List, Describe "
            "or Get, without Get* operations that issue credentials, tokens or secret values",
            "AWS_Cloudtrail": "<eventSource without .amazonaws.com>_<eventName>; every operation, "
            "plus non-API sign-in events",
            "AWS_Config": "managed rule identifiers; Custom_<rule name> accepted by pattern",
            "AWS_Security_Hub": "Security Hub control ids",
        },
        "AWS_API_Call": api,
        "AWS_Cloudtrail": {p: sorted(e) for p, e in sorted(trail.items()) if e},
        "AWS_Config": dict(sorted(config.items())),
        "AWS_Security_Hub": hub,
        "dropped": sorted(set(dropped)),
    }


def _natural(s: str):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", s)]


def main() -> Path:
    path = common.write_data("keywords", build(), force_gzip=True)
    print(f"wrote {path.relative_to(common.REPO)}")
    return path


if __name__ == "__main__":
    main()

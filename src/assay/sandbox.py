"""A sandbox AWS for `assay demo`: moto in server mode with two accounts of an organization,
seeded with a realistic mix of compliant and non-compliant resources, Security Hub findings,
AWS Config rule evaluations and CloudTrail log files, so collection works with no AWS account.

moto does not answer Config's GetComplianceDetailsByConfigRule; the sandbox adds that one read
call, answered from the evaluations it seeded. Everything else is moto's.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import hashlib
import json
import logging
import re
import socket
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

REGION = "us-east-1"
OWN_ACCOUNT = "123456789012"  # moto's default account: the demo's "Assay credentials"
# Fixed, so every `make demo` collects from the same accounts and re-running adds nothing new.
MEMBER_ACCOUNT = "210987654321"
ORGANIZATION_ID = "o-assaydemo01"
TRAIL_BUCKET = "assay-demo-org-trail"
MEMBER_ROLE = "AssayMemberRole"
_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

# (account, region, rule name) -> evaluation results, answered by the Config extension.
_EVALUATIONS: dict[tuple[str, str, str], list[dict[str, Any]]] = {}


@dataclass
class Sandbox:
    url: str
    server: Any
    own_account: str = OWN_ACCOUNT
    member_account: str = ""
    organization_id: str = ""
    seeded: dict[str, int] = field(default_factory=dict)

    @property
    def environment(self) -> dict[str, str]:
        """What the standard boto3 configuration needs to talk to the sandbox."""
        return {"AWS_ENDPOINT_URL": self.url, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
                "ASSAY_CLOUDTRAIL_S3_URI": f"s3://{TRAIL_BUCKET}/trail",
                "ASSAY_MEMBER_ROLE": MEMBER_ROLE}

    def client(self, service: str, **credentials):
        import boto3

        return boto3.client(service, endpoint_url=self.url, region_name=REGION,
                            **(credentials or _CREDENTIALS))

    def stop(self) -> None:
        self.server.stop()


def start_sandbox() -> Sandbox:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # moto is a demo/test dependency
        raise RuntimeError("The sandbox needs moto: pip install 'assay[test]'") from exc
    _extend_moto()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)  # moto's request log drowns the demo
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # moto draws resource ids (security groups, VPCs, ...) from one generator: seeded, the same
    # calls give the same ids in every sandbox, so a second demo observes the same resources.
    # (moto's documented seed endpoint.)
    url = f"http://127.0.0.1:{port}"
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/seed?a=20260401", method="POST"),
                           timeout=10).close()
    return Sandbox(url=url, server=server)


def _extend_moto() -> None:
    from moto.config.responses import ConfigResponse
    from moto.moto_server import werkzeug_app
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if hasattr(ConfigResponse, "get_compliance_details_by_config_rule"):
        return

    dispatch = DomainDispatcherApplication.__call__
    # moto prints a hint for every unknown host; the demo's output is for people.
    werkzeug_app.print = lambda *args, **kwargs: None

    def answer_unknown_services(self, environ, start_response):
        # A service or operation moto does not emulate answers like an AWS error naming it,
        # never with a stack trace or moto's own HTML 404 page.
        service = _signed_service(environ)
        try:
            self.get_application(environ)
        except Exception:
            return _aws_error(environ, start_response, "UnsupportedOperation",
                              f"The sandbox AWS does not emulate the {service} service")
        held: dict = {}

        def hold(status, headers, exc_info=None):
            held.update(status=status, headers=headers)
            if not (status.startswith("404") and _is_html(headers)):
                return start_response(status, headers, exc_info)
            return lambda _data: None

        body = dispatch(self, environ, hold)
        if held.get("status", "").startswith("404") and _is_html(held["headers"]):
            if hasattr(body, "close"):
                body.close()
            operation = (environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
                         or f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}")
            return _aws_error(environ, start_response, "UnsupportedOperation",
                              f"The sandbox AWS does not emulate {service} {operation}")
        return body

    DomainDispatcherApplication.__call__ = answer_unknown_services

    def get_compliance_details_by_config_rule(self) -> str:
        results = _EVALUATIONS.get((self.current_account, self.region,
                                    self._get_param("ConfigRuleName")), [])
        wanted = self._get_param("ComplianceTypes") or ["COMPLIANT", "NON_COMPLIANT"]
        return json.dumps({"EvaluationResults": [r for r in results
                                                 if r["ComplianceType"] in wanted]})

    ConfigResponse.get_compliance_details_by_config_rule = get_compliance_details_by_config_rule


def _signed_service(environ: dict) -> str:
    """The service a request is for, from its SigV4 credential scope
    (``Credential=KEY/date/region/service/aws4_request``); the host is only an address here."""
    found = re.search(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request",
                      environ.get("HTTP_AUTHORIZATION", ""))
    return found.group(1) if found else "requested"


def _is_html(headers) -> bool:
    return any(k.lower() == "content-type" and "html" in v for k, v in headers)


def _aws_error(environ: dict, start_response, code: str, message: str):
    """An error in the wire format of the caller's protocol: XML for query protocols, else JSON."""
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}"
                f"</Message></Error></ErrorResponse>").encode()
        headers = [("Content-Type", "text/xml")]
    else:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)]
    start_response("400 Bad Request", headers + [("Content-Length", str(len(body)))])
    return [body]


def _compliant(*parts: str, share: float = 0.7) -> bool:
    """A deterministic mix: about ``share`` of checks pass."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return digest[0] / 255 < share


def seed(sandbox: Sandbox, keywords: dict[str, set[str]], now: dt.datetime | None = None) -> None:
    """Seed both accounts for the given keywords (by source type) of a framework (the trail's
    files come later, from ``seed_trail``). Checks are recorded at the start of ``now``'s day
    (default today, UTC): a second demo on the same day observes the same evaluations."""
    now = now or dt.datetime.now(dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    organizations = sandbox.client("organizations")
    with _fixed_organization_ids():
        organization = organizations.create_organization(FeatureSet="ALL")["Organization"]
        sandbox.organization_id = organization["Id"]
        sandbox.member_account = organizations.create_account(
            AccountName="workloads", Email="workloads@example.com")["CreateAccountStatus"]["AccountId"]
    credentials = sandbox.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{sandbox.member_account}:role/{MEMBER_ROLE}",
        RoleSessionName="assay-demo-seed")["Credentials"]
    member = {"aws_access_key_id": credentials["AccessKeyId"],
              "aws_secret_access_key": credentials["SecretAccessKey"],
              "aws_session_token": credentials["SessionToken"]}
    for account, creds in ((sandbox.own_account, {}), (sandbox.member_account, member)):
        _seed_resources(sandbox, account, creds)
        _seed_config(sandbox, account, creds, keywords.get("AWS_Config", set()), now)
        _seed_security_hub(sandbox, account, creds, keywords.get("AWS_Security_Hub", set()), now)


@contextlib.contextmanager
def _fixed_organization_ids():
    """moto draws organization and account ids at random; the demo's must not change between
    runs (they are in the assessment's scope and in every evidence id)."""
    from moto.organizations import utils

    saved = utils.make_random_org_id, utils.make_random_account_id
    utils.make_random_org_id = lambda: ORGANIZATION_ID
    utils.make_random_account_id = lambda: MEMBER_ACCOUNT
    try:
        yield
    finally:
        utils.make_random_org_id, utils.make_random_account_id = saved


USERS = ("alice", "bob", "carol", "deploy-bot")
BUCKETS = ("logs", "public-site", "backups")  # "backups" is versioned, without MFA Delete

# Which of the sandbox's resources a check evaluates: the resource type a Config rule or Security
# Hub control names (AWS Config managed rules list; Security Hub controls reference), by the
# identifier's prefix. Checks of types the sandbox does not create evaluate nothing, as in AWS.
_CHECKED_TYPES = (
    (r"^(S3_ACCOUNT_LEVEL|S3\.(1|22|23)$)", "AWS::::Account"),
    (r"^S3[_.]", "AWS::S3::Bucket"),
    (r"^(IAM_USER_|ACCESS_KEYS_ROTATED|MFA_ENABLED_FOR_IAM_CONSOLE|IAM_NO_INLINE|IAM_POLICY_BLACK"
     r"|IAM\.(2|3|5|8|22)$)", "AWS::IAM::User"),
    (r"(SECURITY_GROUP|^INCOMING_SSH|^RESTRICTED_INCOMING|^VPC_SG_|^EC2\.(2|13|14|18|19|53|54)$)",
     "AWS::EC2::SecurityGroup"),
    (r"^(ROOT_|IAM_ROOT|IAM_PASSWORD_POLICY|CLOUD_?TRAIL|MULTI_REGION_CLOUD_TRAIL|SECURITYHUB_"
     r"|GUARDDUTY_|ACCOUNT_|SECURITY_ACCOUNT|EC2_EBS_ENCRYPTION_BY_DEFAULT|Account\.|IAM\.|"
     r"CloudTrail\.|CloudWatch\.|Config\.|GuardDuty\.|EC2\.7$|EC2\.6$)", "AWS::::Account"),
)
# Security Hub's resource type names for the same resources (ASFF ``Resources[].Type``).
_ASFF_TYPES = {"AWS::::Account": "AwsAccount", "AWS::S3::Bucket": "AwsS3Bucket",
               "AWS::IAM::User": "AwsIamUser", "AWS::EC2::SecurityGroup": "AwsEc2SecurityGroup"}
# Checks decided by the seeded buckets' real state (their versioning), not by the mix.
BUCKET_CHECKS = {
    "S3.14": lambda versioning: versioning.get("Status") == "Enabled",
    "S3_BUCKET_VERSIONING_ENABLED": lambda versioning: versioning.get("Status") == "Enabled",
    "S3.20": lambda versioning: versioning.get("MFADelete") == "Enabled",
}


def checked_resources(identifier: str, account: str) -> list[tuple[str, str, str]]:
    """The (resource type, resource id, ARN) triples of the sandbox's resources in ``account``
    that the check ``identifier`` (Config rule identifier or Security Hub control id) evaluates."""
    for pattern, resource_type in _CHECKED_TYPES:
        if re.search(pattern, identifier):
            break
    else:
        return []
    if resource_type == "AWS::S3::Bucket":
        return [(resource_type, f"demo-{account}-{b}", f"arn:aws:s3:::demo-{account}-{b}")
                for b in BUCKETS]
    if resource_type == "AWS::IAM::User":
        return [(resource_type, f"{u}-{account[-4:]}", f"arn:aws:iam::{account}:user/{u}-{account[-4:]}")
                for u in USERS]
    if resource_type == "AWS::EC2::SecurityGroup":
        return [(resource_type, "ssh-from-anywhere",
                 f"arn:aws:ec2:{REGION}:{account}:security-group/ssh-from-anywhere")]
    return [(resource_type, account, f"arn:aws:iam::{account}:root")]


def _result(identifier: str, account: str, resource_id: str, share: float, s3) -> bool:
    """Whether the check passes on the resource: from the bucket's state for BUCKET_CHECKS,
    else the deterministic mix."""
    check = BUCKET_CHECKS.get(identifier)
    if check:
        return check(s3.get_bucket_versioning(Bucket=resource_id))
    return _compliant(account, identifier, resource_id, share=share)


def _seed_resources(sandbox: Sandbox, account: str, creds: dict) -> None:
    iam, s3, ec2 = (sandbox.client(s, **creds) for s in ("iam", "s3", "ec2"))
    for name in USERS:
        iam.create_user(UserName=f"{name}-{account[-4:]}")
    iam.update_account_password_policy(MinimumPasswordLength=8 if account == OWN_ACCOUNT else 14,
                                       RequireSymbols=account != OWN_ACCOUNT)
    for suffix in BUCKETS:
        s3.create_bucket(Bucket=f"demo-{account}-{suffix}")
    # Versioned without MFA Delete: passes S3.14 (versioning), fails S3.20 (CIS 2.1.2).
    s3.put_bucket_versioning(Bucket=f"demo-{account}-backups",
                             VersioningConfiguration={"Status": "Enabled"})
    group = ec2.create_security_group(GroupName="ssh-from-anywhere", Description="demo")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    iam.generate_credential_report()  # what the CIS credential checks read (GetCredentialReport)
    # moto makes an account's IAM Identity Center instance on first use, with an id from the
    # seeded generator: make it now, in a fixed order, not when concurrent collection first asks.
    sandbox.client("sso-admin", **creds).list_instances()
    sandbox.seeded["resources"] = sandbox.seeded.get("resources", 0) + len(USERS) + len(BUCKETS) + 1


def _seed_config(sandbox: Sandbox, account: str, creds: dict, identifiers: set[str],
                 now: dt.datetime) -> None:
    config, s3 = sandbox.client("config", **creds), sandbox.client("s3", **creds)
    for identifier in sorted(identifiers):
        name = identifier.lower().replace("_", "-")[:64]
        if not _put_managed_rule(config, name, identifier):
            continue
        results = []
        for resource_type, resource_id, _arn in checked_resources(identifier, account):
            ok = _result(identifier, account, resource_id, 0.7, s3)
            results.append({
                "EvaluationResultIdentifier": {
                    "EvaluationResultQualifier": {"ConfigRuleName": name, "ResourceType": resource_type,
                                                  "ResourceId": resource_id},
                    "OrderingTimestamp": now.timestamp()},
                "ComplianceType": "COMPLIANT" if ok else "NON_COMPLIANT",
                "ResultRecordedTime": now.timestamp(), "ConfigRuleInvokedTime": now.timestamp()})
        _EVALUATIONS[(account, REGION, name)] = results
        sandbox.seeded["config_evaluations"] = sandbox.seeded.get("config_evaluations", 0) + len(results)


def _put_managed_rule(config, name: str, identifier: str) -> bool:
    """Deploy a managed rule, giving it the required parameters the sandbox asks for."""
    parameters: dict[str, str] = {}
    for _ in range(5):
        rule = {"ConfigRuleName": name, "Source": {"Owner": "AWS", "SourceIdentifier": identifier}}
        if parameters:
            rule["InputParameters"] = json.dumps(parameters)
        try:
            config.put_config_rule(ConfigRule=rule)
            return True
        except config.exceptions.InvalidParameterValueException as exc:
            missing = re.search(r"required parameter \[(\w+)\]", str(exc))
            if not missing:
                return False
            parameters[missing.group(1)] = "90"
    return False


def _seed_security_hub(sandbox: Sandbox, account: str, creds: dict, control_ids: set[str],
                       now: dt.datetime) -> None:
    securityhub = sandbox.client("securityhub", **creds)
    securityhub.enable_security_hub()
    findings = []
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    s3 = sandbox.client("s3", **creds)
    for control_id in sorted(control_ids):
        for resource_type, resource_id, arn in checked_resources(control_id, account):
            passed = _result(control_id, account, resource_id, 0.65, s3)
            findings.append(_finding(account, control_id, resource_id, passed, stamp,
                                     {"Type": _ASFF_TYPES[resource_type], "Id": arn}))
    for start in range(0, len(findings), 100):
        securityhub.batch_import_findings(Findings=findings[start:start + 100])
    sandbox.seeded["findings"] = sandbox.seeded.get("findings", 0) + len(findings)


def _finding(account: str, control_id: str, key: str, passed: bool, stamp: str, resource: dict) -> dict:
    """A Security Hub finding (ASFF) of ``control_id`` on one resource; ``key`` makes its id."""
    return {
        "SchemaVersion": "2018-10-08",
        "Id": f"arn:aws:securityhub:{REGION}:{account}:finding/{uuid.uuid5(uuid.NAMESPACE_URL, account + control_id + key)}",
        "ProductArn": f"arn:aws:securityhub:{REGION}::product/aws/securityhub",
        "GeneratorId": f"security-control/{control_id}", "AwsAccountId": account,
        "Region": REGION, "Types": ["Software and Configuration Checks"],
        "CreatedAt": stamp, "UpdatedAt": stamp,
        "Severity": {"Label": "INFORMATIONAL" if passed else "HIGH"},
        "Title": f"{control_id} check", "Description": f"Sandbox finding for {control_id}",
        "Resources": [{**resource, "Region": REGION}],
        "Compliance": {"Status": "PASSED" if passed else "FAILED", "SecurityControlId": control_id},
        "RecordState": "ACTIVE", "Workflow": {"Status": "NEW"},
    }


def seed_trail(sandbox: Sandbox, keywords: set[str], start: dt.datetime) -> None:
    """An organization trail's gzipped log files, in CloudTrail's own layout and format, with
    one event per keyword (up to 25) from ``start`` on (collection reads only events after an
    assessment started)."""
    now = start
    from .library.keywords import cloudtrail_event

    s3 = sandbox.client("s3")
    s3.create_bucket(Bucket=TRAIL_BUCKET)
    chosen = sorted(keywords)[:25] or ["signin_ConsoleLogin"]
    for account in (sandbox.own_account, sandbox.member_account):
        records = []
        for n, keyword in enumerate(chosen):
            source, name = cloudtrail_event(keyword)
            when = start + dt.timedelta(seconds=1 + n)
            records.append({
                "eventVersion": "1.09", "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "eventSource": source, "eventName": name, "awsRegion": REGION,
                "userIdentity": {"type": "IAMUser", "principalId": "AIDADEMO", "accountId": account,
                                 "arn": f"arn:aws:iam::{account}:user/alice-{account[-4:]}",
                                 "userName": f"alice-{account[-4:]}"},
                "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.15",
                "eventID": str(uuid.uuid5(uuid.NAMESPACE_URL, account + keyword)),
                "requestID": str(uuid.uuid4()), "eventType": "AwsApiCall", "readOnly": False,
                "managementEvent": True, "recipientAccountId": account,
            })
        key = (f"trail/AWSLogs/{sandbox.organization_id}/{account}/CloudTrail/{REGION}/"
               f"{now:%Y/%m/%d}/{account}_CloudTrail_{REGION}_{now:%Y%m%dT%H%M}Z_demo.json.gz")
        s3.put_object(Bucket=TRAIL_BUCKET, Key=key,
                      Body=gzip.compress(json.dumps({"Records": records}).encode()))
        sandbox.seeded["trail_events"] = sandbox.seeded.get("trail_events", 0) + len(records)

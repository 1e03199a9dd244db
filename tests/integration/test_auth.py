"""Every request is authenticated (SigV4) and authorized (roles), through real clients."""

from __future__ import annotations

import datetime as dt

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError


def error_code(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    return caught.value.response["Error"]["Code"]


def test_unsigned_request_is_refused(server):
    response = httpx.get(f"{server.url}/controls?controlType=Custom")
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert response.json()["message"]


def test_unknown_key_is_refused(server):
    client = boto3.client("auditmanager", endpoint_url=server.url, region_name="us-east-1",
                          aws_access_key_id="AKASNOSUCHKEY0000000", aws_secret_access_key="x" * 40,
                          config=Config(retries={"total_max_attempts": 1}))
    assert error_code(client.list_controls, controlType="Custom") == "UnrecognizedClientException"


def test_wrong_secret_is_refused(server):
    client = boto3.client("auditmanager", endpoint_url=server.url, region_name="us-east-1",
                          aws_access_key_id=server.admin.key_id, aws_secret_access_key="y" * 40,
                          config=Config(retries={"total_max_attempts": 1}))
    assert error_code(client.list_controls, controlType="Custom") == "InvalidSignatureException"


def test_clock_skew_is_refused(server, monkeypatch):
    client = server.client(strict=False)
    skewed = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: skewed.replace(tzinfo=None))
    with pytest.raises(ClientError) as caught:
        client.list_controls(controlType="Custom")
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert "Signature expired" in caught.value.response["Error"]["Message"]


def test_revoked_key_stops_at_once_and_new_key_works_at_once(server):
    identity = server.identity("auditor")
    client = server.client(identity)
    client.list_controls(controlType="Custom")
    server.services.keys.revoke(identity.key_id)
    assert error_code(client.list_controls, controlType="Custom") == "UnrecognizedClientException"


def test_any_region_is_accepted_and_carried_in_arns(server):
    control = server.client(region="ap-southeast-2").create_control(
        name="region-check", controlMappingSources=[{"sourceName": "m", "sourceType": "MANUAL"}]
    )["control"]
    assert control["arn"].startswith("arn:aws:auditmanager:ap-southeast-2:")
    again = server.client(region="eu-central-1").get_control(controlId=control["id"])["control"]
    assert again["arn"].startswith("arn:aws:auditmanager:eu-central-1:")
    assert again["arn"].split(":")[4] == control["arn"].split(":")[4] == server.services.account_id


@pytest.mark.parametrize("role", ["auditor", "delegate"])
def test_read_only_roles_cannot_change_the_library(server, role):
    client = server.client(server.identity(role))
    assert client.list_controls(controlType="Custom")["controlMetadataList"] is not None
    before = server.client().list_controls(controlType="Custom")["controlMetadataList"]
    assert error_code(client.create_control, name=f"by-{role}",
                      controlMappingSources=[{"sourceName": "m", "sourceType": "MANUAL"}]) \
        == "AccessDeniedException"
    assert server.client().list_controls(controlType="Custom")["controlMetadataList"] == before


def test_process_owner_manages_library_but_not_settings(server):
    client = server.client(server.identity("process-owner"))
    control = client.create_control(
        name="po-control", controlMappingSources=[{"sourceName": "m", "sourceType": "MANUAL"}])
    assert control["control"]["type"] == "Custom"
    client.get_settings(attribute="ALL")
    assert error_code(client.update_settings, kmsKey="DEFAULT") == "AccessDeniedException"
    assert error_code(client.deregister_account) == "AccessDeniedException"


def test_unknown_route_is_an_aws_error(server):
    response = httpx.get(f"{server.url}/nope")
    assert response.status_code == 404
    assert response.headers["x-amzn-ErrorType"] == "UnknownOperationException"


def _signed_get(server, path, service="auditmanager", region="us-east-1", token=None):
    """A GET signed by botocore's signer with any scope, sent as is."""
    admin = server.admin
    request = AWSRequest(method="GET", url=f"{server.url}{path}")
    SigV4Auth(Credentials(admin.key_id, admin.secret, token), service, region).add_auth(request)
    return httpx.get(request.url, headers=dict(request.prepare().headers))


@pytest.mark.parametrize("scope", [{"service": "s3"}, {"service": "sts"},
                                   {"region": "us-east-1<b>"}, {"region": "US-EAST-1"},
                                   {"region": "us-east-1 x"},
                                   {"token": "FwoGZXIvYXdzEJr//////////wEaDM"}],
                         ids=["s3", "sts", "markup-region", "upper-region", "space-region",
                              "session-token"])
def test_sigv4_scope_service_region_and_session_tokens(server, scope):
    """A signature for another service, a malformed region, or a session token Assay never
    issued is refused, before anything could store the region or put it in an ARN."""
    body = '{"name": "scoped", "controlMappingSources": [{"sourceName": "s", "sourceSetUpOption": "Procedural_Controls_Mapping", "sourceType": "MANUAL"}]}'
    admin = server.admin
    request = AWSRequest(method="POST", url=f"{server.url}/controls", data=body.encode(),
                         headers={"content-type": "application/json"})
    SigV4Auth(Credentials(admin.key_id, admin.secret, scope.get("token")),
              scope.get("service", "auditmanager"),
              scope.get("region", "us-east-1")).add_auth(request)
    answer = httpx.post(request.url, content=body.encode(), headers=dict(request.prepare().headers))
    assert answer.status_code == 403, answer.text
    expected = {"UnrecognizedClientException"} if "token" in scope else {
        "InvalidSignatureException", "IncompleteSignatureException"}
    assert answer.headers["x-amzn-ErrorType"] in expected
    names = {c["name"] for c in server.client().list_controls(
        controlType="Custom")["controlMetadataList"]}
    assert "scoped" not in names
    # The same key, scoped right, still works.
    assert _signed_get(server, "/settings/ALL").status_code == 200

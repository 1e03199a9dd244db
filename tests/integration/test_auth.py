"""Every request is authenticated (SigV4) and authorized (roles), through real clients."""

from __future__ import annotations

import datetime as dt

import boto3
import httpx
import pytest
from botocore.config import Config
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

"""SigV4 verification against requests signed by botocore itself."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from assay.api import sigv4
from assay.service.errors import AuthError

KEY, SECRET = "AKASTESTKEY000000000", "s3cr3t/with+chars"
URL = "http://127.0.0.1:8765/tags/arn%3Aaws%3Aauditmanager%3Aus-east-1%3A111122223333%3Acontrol%2Fx"


def signed(method="GET", url=URL + "?tagKeys=a&tagKeys=b%20c", body=b"", secret=SECRET,
           region="eu-west-3"):
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(KEY, secret), "auditmanager", region).add_auth(request)
    prepared = request.prepare()
    return prepared


def verify(prepared, now=None, lookup=None):
    parts = urlsplit(prepared.url)
    headers = list(prepared.headers.items())
    if not any(k.lower() == "host" for k, _ in headers):
        headers.append(("host", parts.netloc))
    return sigv4.verify(prepared.method, f"{parts.scheme}://{parts.netloc}{parts.path}", parts.query,
                        headers, prepared.body or b"", lookup or {KEY: SECRET}.get, now=now)


def test_botocore_signature_verifies_and_names_region():
    result = verify(signed())
    assert result.access_key_id == KEY and result.region == "eu-west-3"


def test_body_is_covered():
    prepared = signed(method="POST", body=b'{"name":"a"}')
    verify(prepared)
    prepared.body = b'{"name":"b"}'
    with pytest.raises(AuthError) as caught:
        verify(prepared)
    assert caught.value.code == "InvalidSignatureException"


def test_query_and_path_are_covered():
    prepared = signed()
    prepared.url = prepared.url.replace("tagKeys=a", "tagKeys=z")
    with pytest.raises(AuthError) as caught:
        verify(prepared)
    assert caught.value.code == "InvalidSignatureException"


def test_wrong_secret_unknown_key_and_missing_header():
    with pytest.raises(AuthError) as caught:
        verify(signed(secret="other"))
    assert caught.value.code == "InvalidSignatureException"
    with pytest.raises(AuthError) as caught:
        verify(signed(), lookup=lambda key: None)
    assert caught.value.code == "UnrecognizedClientException"
    prepared = signed()
    del prepared.headers["Authorization"]
    with pytest.raises(AuthError) as caught:
        verify(prepared)
    assert caught.value.code == "MissingAuthenticationTokenException"


@pytest.mark.parametrize("minutes, ok", [(14, True), (-14, True), (16, False), (-16, False)])
def test_clock_skew_window(minutes, ok):
    prepared = signed()
    now = datetime.now(timezone.utc) + timedelta(minutes=minutes)
    if ok:
        verify(prepared, now=now)
    else:
        with pytest.raises(AuthError) as caught:
            verify(prepared, now=now)
        assert caught.value.code == "InvalidSignatureException"
        assert "Signature expired" in caught.value.message


def test_malformed_authorization_header():
    prepared = signed()
    prepared.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=x"
    with pytest.raises(AuthError) as caught:
        verify(prepared)
    assert caught.value.code == "IncompleteSignatureException"


def _scoped(service="auditmanager", region="us-east-1", token=None):
    headers = {"Content-Type": "application/json"}
    request = AWSRequest(method="GET", url=URL, data=b"", headers=headers)
    SigV4Auth(Credentials(KEY, SECRET, token), service, region).add_auth(request)
    return request.prepare()


@pytest.mark.parametrize("service", ["s3", "sts", "AuditManager", "execute-api"])
def test_a_signature_for_another_service_is_refused(service):
    with pytest.raises(AuthError) as caught:
        verify(_scoped(service=service))
    assert caught.value.code == "InvalidSignatureException"
    assert "service" in caught.value.message


@pytest.mark.parametrize("region", ["us-east-1<b>", "US-EAST-1", "us-east-1 ", "x", "us_east_1",
                                    "us-east-01x", "eu-west-3/../x", "a" * 60])
def test_a_malformed_region_is_refused(region):
    with pytest.raises(AuthError) as caught:
        verify(_scoped(region=region))
    assert caught.value.code in ("InvalidSignatureException", "IncompleteSignatureException")


@pytest.mark.parametrize("region", ["us-east-1", "us-gov-west-1", "ap-southeast-2",
                                    "eu-central-1", "cn-north-1", "us-isob-east-1"])
def test_real_region_names_verify(region):
    assert verify(_scoped(region=region)).region == region


def test_a_session_token_assay_never_issued_is_refused():
    with pytest.raises(AuthError) as caught:
        verify(_scoped(token="FwoGZXIvYXdzEJr//////////wEaDM"))
    assert caught.value.code == "UnrecognizedClientException"

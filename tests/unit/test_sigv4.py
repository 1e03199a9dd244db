"""SigV4 verification against requests signed by botocore itself."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import quote, urlsplit

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


# --- the direct implementation against botocore's signer, the oracle ------------------------

_ODD_PATHS = ["/controls/abc", "/controls/abc/", "/a/./b/../c", "//double//slash", "/",
              "/tags/arn%3Aaws%3Aauditmanager%3Aus-east-1%3A1%3Acontrol%2Fx",
              "/sp%20ace/t~ilde/%7Etilde", "/unicode/%C3%A9t%C3%A9", "/plus+sign/and=eq"]
_ODD_PARAMS = [None, {"a": "1"}, [("tagKeys", v) for v in ["b c", "a/b", "é", "+", "x=y&z"]],
               {"maxResults": "100", "nextToken": "tok/en+==", "controlType": "Custom"},
               {"empty": "", "z": "~-._"}]


def _botocore_signed(path, params, headers, body, method="POST"):
    # Queries encoded as botocore's REST serializer encodes them (only -_.~ left as they are).
    query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                     for k, v in (params.items() if isinstance(params, dict) else params or []))
    request = AWSRequest(method=method, url="http://127.0.0.1:8765" + path
                         + (f"?{query}" if query else ""), data=body, headers=headers)
    SigV4Auth(Credentials(KEY, SECRET), "auditmanager", "us-west-2").add_auth(request)
    return request.prepare()


@pytest.mark.parametrize("path", _ODD_PATHS)
@pytest.mark.parametrize("params", _ODD_PARAMS)
def test_botocore_signatures_verify_over_odd_paths_and_queries(path, params):
    prepared = _botocore_signed(path, params, {"Content-Type": "application/json"}, b'{"a":1}')
    assert verify(prepared).region == "us-west-2"
    # The same request with the path changed, or one query value changed, does not verify.
    parts = urlsplit(prepared.url)
    other = f"{parts.scheme}://{parts.netloc}{parts.path}x"
    headers = list(prepared.headers.items()) + [("host", parts.netloc)]
    with pytest.raises(AuthError):
        sigv4.verify("POST", other, parts.query, headers, prepared.body, {KEY: SECRET}.get)
    if parts.query:
        with pytest.raises(AuthError):
            sigv4.verify("POST", f"{parts.scheme}://{parts.netloc}{parts.path}",
                         parts.query + "0", headers, prepared.body, {KEY: SECRET}.get)


@pytest.mark.parametrize("headers", [
    {"X-Custom": "  spaced   out  value ", "Content-Type": "application/json"},
    {"X-Amz-Content-SHA256": "", "Content-Type": "application/x-amz-json-1.1"},
    {"X-Amz-Target": "AuditManager.GetControl", "x-lower": "a\tb"},
])
def test_botocore_signatures_verify_over_odd_headers(headers):
    body = b'{"name": "x"}'
    if "X-Amz-Content-SHA256" in headers:
        headers["X-Amz-Content-SHA256"] = __import__("hashlib").sha256(body).hexdigest()
    prepared = _botocore_signed("/controls", None, headers, body)
    verify(prepared)
    # A signed header's value is covered: change it and the signature no longer holds.
    name = next(n for n in headers if n.lower() != "x-amz-content-sha256")
    prepared.headers[name] = prepared.headers[name] + "x"
    with pytest.raises(AuthError) as caught:
        verify(prepared)
    assert caught.value.code == "InvalidSignatureException"


def test_repeated_header_values_are_signed_in_order():
    """Two values of one header: botocore's canonical form (values joined by commas, in
    order) verifies; the values swapped do not."""
    request = AWSRequest(method="GET", url=URL, data=b"")
    request.headers.add_header("x-multi", "one")
    request.headers.add_header("x-multi", "two")
    SigV4Auth(Credentials(KEY, SECRET), "auditmanager", "us-east-1").add_auth(request)
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    pairs = [(k, v) for k, v in request.headers.items()] + [("host", parts.netloc)]
    url = f"{parts.scheme}://{parts.netloc}{parts.path}"
    sigv4.verify("GET", url, parts.query, pairs, b"", {KEY: SECRET}.get)
    swapped = [(k, {"one": "two", "two": "one"}.get(v, v)) if k == "x-multi" else (k, v)
               for k, v in pairs]
    with pytest.raises(AuthError):
        sigv4.verify("GET", url, parts.query, swapped, b"", {KEY: SECRET}.get)


def test_canonical_parts_match_botocore():
    """The canonical URI and query string, part by part, as botocore's signer builds them."""
    signer = SigV4Auth(Credentials(KEY, SECRET), "auditmanager", "us-east-1")
    for path in _ODD_PATHS:
        url = "http://h" + path
        assert sigv4.canonical_path(url) == signer._normalize_url_path(urlsplit(url).path)
    for query in ["", "a=1", "b=2&a=1&a=0", "k=%2F%20x+y", "e=&f", "&&", "t=%E2%9C%93&s=%7e"]:
        request = AWSRequest(method="GET", url="http://h/")
        request.params = [(__import__("urllib.parse").parse.unquote(k),
                           __import__("urllib.parse").parse.unquote(v))
                          for k, _, v in (p.partition("=") for p in query.split("&") if p)]
        assert sigv4.canonical_query(query) == signer.canonical_query_string(request)


def test_a_credential_date_other_than_the_signing_day_is_refused():
    prepared = signed()
    auth = prepared.headers["Authorization"]
    day = prepared.headers["X-Amz-Date"][:8]
    prepared.headers["Authorization"] = auth.replace(f"/{day}/", f"/{day[:6]}/")
    with pytest.raises(AuthError) as caught:
        verify(prepared)
    assert caught.value.code == "InvalidSignatureException"


@pytest.mark.parametrize("stamp", ["20261130T1200Z", "20261330T120000Z", "20260230T120000Z",
                                   "20261130T240000Z", "2026-11-30T12:00:00Z"])
def test_a_malformed_amz_date_is_refused(stamp):
    prepared = signed()
    prepared.headers["X-Amz-Date"] = stamp
    with pytest.raises(AuthError) as caught:
        verify(prepared)
    assert caught.value.code in ("IncompleteSignatureException", "InvalidSignatureException")


def test_a_header_signed_twice_is_refused():
    prepared = signed()
    auth = prepared.headers["Authorization"]
    prepared.headers["Authorization"] = auth.replace("SignedHeaders=", "SignedHeaders=host;")
    with pytest.raises(AuthError) as caught:
        verify(prepared)
    assert caught.value.code == "IncompleteSignatureException"


def test_signing_keys_are_derived_once_per_scope():
    sigv4._SIGNING_KEYS.clear()
    verify(signed())
    verify(signed())
    assert len(sigv4._SIGNING_KEYS) == 1
    with pytest.raises(AuthError):
        verify(signed(secret="other"))  # the server derives from the stored secret only
    assert len(sigv4._SIGNING_KEYS) == 1
    verify(signed(region="ap-southeast-2"))
    assert len(sigv4._SIGNING_KEYS) == 2

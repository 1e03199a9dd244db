"""AWS Signature Version 4 verification.

The server recomputes the signature with botocore's own signer over exactly the headers the
client signed, so whatever botocore (and every SDK that follows the spec) sends verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable
from urllib.parse import unquote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from ..service.errors import AuthError

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)


# The only service a request to Assay may be scoped to: Audit Manager's signing name (botocore's
# auditmanager model, ``signingName``). A signature made for another service (``s3``...) was
# made for someone else and is refused, as AWS refuses it.
SERVICE = "auditmanager"
# An AWS Region name: partition prefix, optional qualifiers, direction, number (us-east-1,
# us-gov-west-1, ap-southeast-2, us-isob-east-1). The region becomes part of ARNs, so anything
# else is refused before it is stored.
REGION_RE = re.compile(r"^[a-z]{2}(?:-[a-z]+){1,3}-[1-9][0-9]?$")
# Assay issues long-term access keys only; a session token was issued by someone else.
_TOKEN_HEADER = "x-amz-security-token"


@dataclass(frozen=True)
class SignedRequest:
    access_key_id: str
    region: str
    service: str


@dataclass(frozen=True)
class Credential:
    """What the Authorization header claims, checked before the body is read: the scope is
    well formed and Assay's, the clock is within the window and the key is active. Only the
    signature itself (which covers the body) remains to check, in ``verify``."""

    key_id: str
    secret: str
    date: str
    region: str
    service: str
    amz_date: str
    signed_headers: tuple[str, ...]
    signature: str


class _Verifier(SigV4Auth):
    """botocore's signer, told which headers the client chose to sign."""

    def __init__(self, credentials, service, region, signed_headers: list[str]):
        super().__init__(credentials, service, region)
        self._signed = signed_headers

    def headers_to_sign(self, request):
        chosen = HTTPHeaders()
        for name in self._signed:
            for value in request.headers.get_all(name) or []:
                chosen.add_header(name, value)
        return chosen


def _header_map(headers: Iterable[tuple[str, str]]) -> HTTPHeaders:
    header_map = HTTPHeaders()
    for name, value in headers:
        header_map.add_header(name.lower(), value)
    return header_map


def check_credential(
    headers: Iterable[tuple[str, str]],
    raw_query: str,
    lookup_secret: Callable[[str], str | None],
    now: datetime | None = None,
    service_name: str = SERVICE,
) -> Credential:
    """Check everything of a SigV4 request that does not need its body; raise ``AuthError``
    (AWS's codes) or return the claimed credential with its secret. ``service_name`` is the
    signing name the scope must carry (``auditmanager``; ``cloudtrail`` for the evidence
    finder's CloudTrail Lake endpoint). Servers call this before
    reading a body, so an unauthenticated client cannot make them read more than the headers.
    """
    header_map = _header_map(headers)
    authorization = header_map.get("authorization")
    if not authorization:
        raise AuthError("MissingAuthenticationTokenException", "Missing Authentication Token")
    parsed = _AUTH_RE.match(authorization)
    if not parsed:
        raise AuthError(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
            f"parameters with algorithm {ALGORITHM}.",
        )
    try:
        key_id, date, region, service, terminator = parsed["credential"].split("/")
    except ValueError:
        raise AuthError("IncompleteSignatureException", "Credential is not a valid SigV4 scope.")
    if terminator != "aws4_request":
        raise AuthError("IncompleteSignatureException", "Credential scope must end in aws4_request.")
    if service != service_name:
        raise AuthError("InvalidSignatureException",
                        f"Credential should be scoped to correct service: '{service_name}'.")
    if not REGION_RE.match(region):
        raise AuthError("InvalidSignatureException",
                        "Credential should be scoped to a valid region (such as us-east-1).")
    if header_map.get(_TOKEN_HEADER) is not None or any(
            pair.split("=", 1)[0].lower() == _TOKEN_HEADER for pair in raw_query.split("&")):
        # Assay never issues temporary credentials, so no session token can be one of ours.
        raise AuthError("UnrecognizedClientException",
                        "The security token included in the request is invalid.")

    amz_date = header_map.get("x-amz-date")
    if not amz_date:
        raise AuthError("IncompleteSignatureException", "Missing X-Amz-Date header.")
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise AuthError("IncompleteSignatureException", f"X-Amz-Date '{amz_date}' is malformed.")
    if not amz_date.startswith(date):
        raise AuthError("InvalidSignatureException", "Credential date does not match X-Amz-Date.")

    signed_headers = parsed["signed"].split(";")
    if "host" not in signed_headers:
        raise AuthError("InvalidSignatureException", "The host header must be signed.")

    secret = lookup_secret(key_id)
    if secret is None:
        raise AuthError(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )

    now = now or datetime.now(timezone.utc)
    if abs(now - signed_at) > MAX_SKEW:
        fmt = "%Y%m%dT%H%M%SZ"
        edge = (now - MAX_SKEW) if signed_at < now else (now + MAX_SKEW)
        relation = "earlier" if signed_at < now else "later"
        sign = "-" if signed_at < now else "+"
        raise AuthError(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now {relation} than {edge.strftime(fmt)} "
            f"({now.strftime(fmt)} {sign} 15 min.)",
        )
    return Credential(key_id, secret, date, region, service, amz_date, tuple(signed_headers),
                      parsed["signature"])


def verify(
    method: str,
    url: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    lookup_secret: Callable[[str], str | None],
    now: datetime | None = None,
    credential: Credential | None = None,
) -> SignedRequest:
    """Verify a SigV4-signed request; return who signed it or raise ``AuthError``.

    ``url`` is scheme://host + the raw (still percent-encoded) path, as the client signed it.
    ``lookup_secret`` maps an access key id to its secret, or None when there is no such key.
    ``credential`` is ``check_credential``'s answer when the caller already asked it (before
    reading the body); otherwise it is checked here.
    """
    header_map = _header_map(headers)
    if credential is None:
        credential = check_credential(header_map.items(), raw_query, lookup_secret, now)
    key_id, secret, region = credential.key_id, credential.secret, credential.region
    amz_date, signed_headers = credential.amz_date, list(credential.signed_headers)

    content_sha = header_map.get("x-amz-content-sha256")
    if content_sha is not None and content_sha != hashlib.sha256(body).hexdigest():
        raise AuthError(
            "InvalidSignatureException",
            "The provided x-amz-content-sha256 header does not match what was computed.",
        )

    request = AWSRequest(method=method, url=url, headers=header_map, data=body)
    # Canonicalise the query from its decoded pairs, so any valid client encoding verifies.
    request.params = [
        (unquote(key), unquote(value))
        for key, _, value in (pair.partition("=") for pair in raw_query.split("&") if pair)
    ]
    request.context["timestamp"] = amz_date
    verifier = _Verifier(Credentials(key_id, secret), credential.service, region, signed_headers)
    canonical = verifier.canonical_request(request)
    expected = verifier.signature(verifier.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, credential.signature):
        raise AuthError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
        )
    return SignedRequest(access_key_id=key_id, region=region, service=credential.service)

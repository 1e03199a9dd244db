"""AWS Signature Version 4 verification.

The server recomputes the signature over exactly the headers the client signed, following
AWS's specification ("Create a canonical request for Signature Version 4", "Create a string to
sign", "Calculate the signature") the way botocore's signer (``botocore.auth.SigV4Auth``) reads
it, so whatever botocore and every SDK that follows the spec sends verifies:

- canonical URI: the path with dot segments and repeated slashes removed
  (``botocore.utils.normalize_url_path``), then percent-encoded again, ``/`` and ``~`` kept;
- canonical query: each ``name=value`` pair decoded, re-encoded with only ``-_.~`` unreserved,
  sorted by name then value;
- canonical headers: each signed header name as given, its values in request order with
  whitespace runs collapsed, joined by ``,``; names sorted;
- payload hash: SHA-256 of the body (an ``x-amz-content-sha256`` header must equal it);
- signing key: HMAC-SHA256 chain over ``AWS4`` + secret, date, region, service,
  ``aws4_request``. It depends only on those four, so it is derived once per key and day and
  kept (``_signing_key``): a request then costs two SHA-256 digests and one HMAC.

tests/unit/test_sigv4.py checks this against botocore's own signer, request by request.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable, Mapping
from urllib.parse import quote, unquote, urlsplit

from botocore.utils import normalize_url_path

from ..service.errors import AuthError

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)
_MAX_SKEW_S = MAX_SKEW.total_seconds()
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
# X-Amz-Date: ISO 8601 basic format, UTC (what every SDK sends).
_AMZ_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$")
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


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
# Query-string characters left unencoded in the canonical query (RFC 3986 unreserved).
_QUERY_SAFE = "-_.~"

Headers = Mapping[str, list[str]]


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


def header_index(headers: Iterable[tuple[str, str]] | Headers) -> Headers:
    """Header values by lower-case name, in request order: ``{name: [value, ...]}``. A mapping
    already in that form (what this function returns) is passed through, so callers that
    check the credential and then the signature index the headers once."""
    if isinstance(headers, dict):
        return headers
    index: dict[str, list[str]] = {}
    for name, value in headers:
        name = name.lower()
        found = index.get(name)
        if found is None:
            index[name] = [value]
        else:
            found.append(value)
    return index


def _first(index: Headers, name: str) -> str | None:
    values = index.get(name)
    return values[0] if values else None


def check_credential(
    headers: Iterable[tuple[str, str]] | Headers,
    raw_query: str,
    lookup_secret: Callable[[str], str | None],
    now: datetime | None = None,
    service_name: str = SERVICE,
) -> Credential:
    """Check everything of a SigV4 request that does not need its body; raise ``AuthError``
    (AWS's codes) or return the claimed credential with its secret. ``headers``: (name, value)
    pairs or a ``header_index``. ``service_name`` is the signing name the scope must carry
    (``auditmanager``; ``cloudtrail`` for the evidence finder's CloudTrail Lake endpoint).
    Servers call this before reading a body, so an unauthenticated client cannot make them
    read more than the headers.
    """
    index = header_index(headers)
    authorization = _first(index, "authorization")
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
    if _TOKEN_HEADER in index or (_TOKEN_HEADER in raw_query.lower() and any(
            pair.split("=", 1)[0].lower() == _TOKEN_HEADER for pair in raw_query.split("&"))):
        # Assay never issues temporary credentials, so no session token can be one of ours.
        raise AuthError("UnrecognizedClientException",
                        "The security token included in the request is invalid.")

    amz_date = _first(index, "x-amz-date")
    if not amz_date:
        raise AuthError("IncompleteSignatureException", "Missing X-Amz-Date header.")
    signed_at = _epoch(amz_date)
    if signed_at is None:
        raise AuthError("IncompleteSignatureException", f"X-Amz-Date '{amz_date}' is malformed.")
    if date != amz_date[:8]:
        raise AuthError("InvalidSignatureException", "Credential date does not match X-Amz-Date.")

    signed_headers = parsed["signed"].split(";")
    if "host" not in signed_headers:
        raise AuthError("InvalidSignatureException", "The host header must be signed.")
    if len({name.lower() for name in signed_headers}) != len(signed_headers):
        raise AuthError("IncompleteSignatureException", "SignedHeaders names a header twice.")

    secret = lookup_secret(key_id)
    if secret is None:
        raise AuthError(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )

    current = now.timestamp() if now is not None else _now()
    if abs(current - signed_at) > _MAX_SKEW_S:
        raise AuthError("InvalidSignatureException", _expired(amz_date, signed_at, current))
    return Credential(key_id, secret, date, region, service, amz_date, tuple(signed_headers),
                      parsed["signature"])


def _now() -> float:
    return datetime.now(timezone.utc).timestamp()


def _epoch(amz_date: str) -> float | None:
    """Seconds since the epoch of an X-Amz-Date, or None when it is not a real UTC time in
    ISO 8601 basic format."""
    found = _AMZ_DATE_RE.match(amz_date)
    if found is None:
        return None
    try:
        fields = [int(part) for part in found.groups()]
        datetime(*fields)  # refuses month 13, February 30th, hour 24...
    except ValueError:
        return None
    return float(calendar.timegm(fields))


def _expired(amz_date: str, signed_at: float, current: float) -> str:
    now = datetime.fromtimestamp(current, timezone.utc)
    earlier = signed_at < current
    edge = (now - MAX_SKEW) if earlier else (now + MAX_SKEW)
    return (f"Signature expired: {amz_date} is now {'earlier' if earlier else 'later'} than "
            f"{edge.strftime(_AMZ_DATE_FORMAT)} ({now.strftime(_AMZ_DATE_FORMAT)} "
            f"{'-' if earlier else '+'} 15 min.)")


def verify(
    method: str,
    url: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]] | Headers,
    body: bytes,
    lookup_secret: Callable[[str], str | None],
    now: datetime | None = None,
    credential: Credential | None = None,
) -> SignedRequest:
    """Verify a SigV4-signed request; return who signed it or raise ``AuthError``.

    ``url`` is scheme://host + the raw (still percent-encoded) path, as the client signed it.
    ``headers``: (name, value) pairs or a ``header_index``. ``lookup_secret`` maps an access
    key id to its secret, or None when there is no such key. ``credential`` is
    ``check_credential``'s answer when the caller already asked it (before reading the body);
    otherwise it is checked here.
    """
    index = header_index(headers)
    if credential is None:
        credential = check_credential(index, raw_query, lookup_secret, now)

    payload_hash = hashlib.sha256(body).hexdigest()
    content_sha = _first(index, "x-amz-content-sha256")
    if content_sha is not None and content_sha != payload_hash:
        raise AuthError(
            "InvalidSignatureException",
            "The provided x-amz-content-sha256 header does not match what was computed.",
        )

    canonical = "\n".join((
        method.upper(),
        canonical_path(url),
        canonical_query(raw_query),
        *_canonical_headers(index, credential.signed_headers),
        payload_hash,
    ))
    scope_date = credential.amz_date[:8]
    string_to_sign = "\n".join((
        ALGORITHM, credential.amz_date,
        f"{scope_date}/{credential.region}/{credential.service}/aws4_request",
        hashlib.sha256(canonical.encode("utf-8")).hexdigest()))
    key = _signing_key(credential.secret, scope_date, credential.region, credential.service)
    expected = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, credential.signature):
        raise AuthError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
        )
    return SignedRequest(access_key_id=credential.key_id, region=credential.region,
                         service=credential.service)


def canonical_path(url: str) -> str:
    """The canonical URI of ``url`` (scheme://host/raw-path): dot segments and empty segments
    removed, then percent-encoded (again: services other than S3 encode the path twice)."""
    return quote(normalize_url_path(urlsplit(url).path), safe="/~")


def canonical_query(raw_query: str) -> str:
    """The canonical query string: pairs decoded (so any valid client encoding verifies),
    re-encoded with only unreserved characters left as they are, sorted."""
    if not raw_query:
        return ""
    pairs = sorted(
        (quote(unquote(name), safe=_QUERY_SAFE), quote(unquote(value), safe=_QUERY_SAFE))
        for name, _, value in (pair.partition("=") for pair in raw_query.split("&") if pair))
    return "&".join(f"{name}={value}" for name, value in pairs)


def _canonical_headers(index: Headers, signed: tuple[str, ...]) -> tuple[str, str]:
    """The canonical headers block (with its closing blank line) and the signed-headers line,
    over the signed names the request carries."""
    present = sorted(name for name in signed if name.lower() in index)
    lines = [f"{name}:{','.join(' '.join(value.split()) for value in index[name.lower()])}"
             for name in present]
    return "\n".join(lines) + "\n", ";".join(sorted(name.lower() for name in present))


# (secret, date, region, service) -> signing key. A key stays valid for its day, so a server
# derives it about once per access key, region and day; the bound only keeps a flood of
# distinct scopes (each needing a valid signature's key) from growing it without end.
_SIGNING_KEYS: dict[tuple[str, str, str, str], bytes] = {}
_SIGNING_KEYS_MAX = 4096


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    scope = (secret, date, region, service)
    key = _SIGNING_KEYS.get(scope)
    if key is None:
        key = ("AWS4" + secret).encode("utf-8")
        for part in (date, region, service, "aws4_request"):
            key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
        if len(_SIGNING_KEYS) >= _SIGNING_KEYS_MAX:
            _SIGNING_KEYS.clear()
        _SIGNING_KEYS[scope] = key
    return key

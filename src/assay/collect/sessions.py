"""AWS sessions for collection: Assay's own account through the standard credentials chain, member
accounts through sts:AssumeRole into ``ASSAY_MEMBER_ROLE``, and ready ``Target``s with adaptive
retries.

This module knows settings and boto3, nothing of the store: the jobs layer above builds one
``AwsSessions`` per process and hands its targets to the collectors.

Throttling: botocore's adaptive retry mode backs off on its own. Every throttling response a
client receives is counted for the shard running in the current thread (``counting()``), so a
run can report requests that were throttled and then succeeded apart from failures.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from .base import Target, partition_of

RETRIES = Config(retries={"mode": "adaptive", "max_attempts": 8}, connect_timeout=10,
                 read_timeout=60, max_pool_connections=32)
# Assumed-role credentials last an hour by default: take fresh ones well before.
ROLE_REFRESH_SECONDS = 45 * 60
# botocore's own list of throttling error codes (retries/standard.py), plus HTTP 429.
THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException",
    "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
    "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
    "EC2ThrottledException"})
IAM_DOCS = "see docs/iam"


class SetupProblem(Exception):
    """Collection cannot start for an account (or at all): one cause, with its fix.

    ``code`` is the AWS error code (or the botocore exception's name); ``message`` is one line
    that names the cause and says what to do."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class ThrottleCount:
    """Throttling responses seen by the current shard's requests."""

    responses: int = 0


class AwsSessions:
    """Sessions and targets for one process; thread-safe.

    ``session_factory`` makes boto3 sessions (tests inject one that stubs what moto lacks).
    Raises ``SetupProblem`` from ``check_credentials`` / ``check_account`` and from ``target``
    when credentials or the member role are missing."""

    def __init__(self, settings, session_factory: Callable[..., boto3.Session] = boto3.Session):
        self.settings = settings
        self.session_factory = session_factory
        self._lock = threading.Lock()
        self._own: tuple[boto3.Session, str] | None = None
        self._members: dict[str, tuple[dict[str, str], float]] = {}
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._local = threading.local()

    # -- checks before fanning out --------------------------------------------------------

    def check_credentials(self) -> str:
        """Assay's own account id, through the standard credentials chain, checked once."""
        return self.own()[1]

    def check_account(self, account: str, region: str) -> None:
        """Assume the member role in ``account`` (nothing to do for Assay's own account)."""
        self.credentials_for(account, region)

    # -- sessions -------------------------------------------------------------------------

    def own(self) -> tuple[boto3.Session, str]:
        with self._lock:
            if self._own is None:
                session = self.session_factory(region_name=self.settings.default_region)
                try:
                    identity = session.client("sts", config=RETRIES).get_caller_identity()
                except NoCredentialsError:
                    raise SetupProblem(
                        "NoCredentials",
                        "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
                        "AWS_SECRET_ACCESS_KEY, or run where an instance or task role is "
                        f"available ({IAM_DOCS})") from None
                except (ClientError, BotoCoreError) as error:
                    code, message = describe(error)
                    raise SetupProblem(code, f"Assay's AWS credentials do not work: {code}: "
                                             f"{message}; check AWS_PROFILE or the keys in use") \
                        from None
                self._own = (session, identity["Account"])
            return self._own

    def credentials_for(self, account: str, region: str) -> dict[str, str]:
        """Client keyword arguments for ``account``: none for Assay's own account, the member
        role's temporary credentials otherwise (assumed once, renewed before they expire)."""
        own, own_account = self.own()
        if account == own_account:
            return {}
        now = time.monotonic()
        with self._lock:
            cached = self._members.get(account)
        if cached is not None and now - cached[1] < ROLE_REFRESH_SECONDS:
            return cached[0]
        role_arn = f"arn:{partition_of(region)}:iam::{account}:role/{self.settings.member_role}"
        kwargs = {"RoleArn": role_arn, "RoleSessionName": "assay-collection"}
        if self.settings.member_external_id:
            kwargs["ExternalId"] = self.settings.member_external_id
        try:
            credentials = own.client("sts", region_name=region, config=RETRIES).assume_role(
                **kwargs)["Credentials"]
        except (ClientError, BotoCoreError) as error:
            code, message = describe(error)
            raise SetupProblem(code, f"cannot assume role {role_arn} in account {account}: "
                                     f"{code}: {message}; deploy docs/iam/assay-member-role.yaml "
                                     f"there ({IAM_DOCS})") from None
        client_credentials = {"aws_access_key_id": credentials["AccessKeyId"],
                              "aws_secret_access_key": credentials["SecretAccessKey"],
                              "aws_session_token": credentials["SessionToken"]}
        with self._lock:
            self._members[account] = (client_credentials, now)
            # Clients of the old credentials go with them.
            for key in [k for k in self._clients if k[0] == account]:
                del self._clients[key]
        return client_credentials

    def target(self, account: str, region: str) -> Target:
        """A Target whose clients are made once per process, account, region and service.
        Every client comes from the one session of Assay's own credentials (member accounts'
        with the assumed role's keys), so service models are loaded once per process."""
        credentials = self.credentials_for(account, region)
        own = self.own()[0]

        def client(service_name: str):
            key = (account, region, service_name)
            with self._lock:
                found = self._clients.get(key)
            if found is None:
                found = own.client(service_name, region_name=region, config=RETRIES,
                                   **credentials)
                found.meta.events.register("response-received", self._on_response)
                with self._lock:
                    found = self._clients.setdefault(key, found)
            return found

        return Target(account, region, client)

    # -- throttling -----------------------------------------------------------------------

    @contextlib.contextmanager
    def counting(self) -> Iterator[ThrottleCount]:
        """Count throttling responses to requests made in this thread meanwhile."""
        count = ThrottleCount()
        previous = getattr(self._local, "count", None)
        self._local.count = count
        try:
            yield count
        finally:
            self._local.count = previous

    def _on_response(self, response_dict: dict | None = None, parsed_response: dict | None = None,
                     **_: Any) -> None:
        count = getattr(self._local, "count", None)
        if count is None or response_dict is None:
            return
        code = ((parsed_response or {}).get("Error") or {}).get("Code")
        if response_dict.get("status_code") == 429 or code in THROTTLING_CODES:
            count.responses += 1


def describe(error: Exception) -> tuple[str, str]:
    """The AWS error code and a one-line message of any exception (some endpoints answer with
    an HTML page; parser errors and bugs carry their class name as the code)."""
    import re

    from ..model.evidence import SourceUnavailable

    if isinstance(error, (SourceUnavailable, SetupProblem)):
        code, message = error.code, error.message
    elif isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code, message = details.get("Code", "ClientError"), details.get("Message", str(error))
    else:
        code, message = type(error).__name__, str(error) or type(error).__name__
    message = " ".join(re.sub(r"<[^>]+>", " ", message).split())
    return code, message[:500]

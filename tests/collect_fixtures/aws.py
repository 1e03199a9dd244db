"""A moto server in a thread, and collector targets whose clients talk to it."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from moto.server import ThreadedMotoServer

from assay.collect import Target

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"})


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto(moto_endpoint: str) -> str:
    """The moto endpoint, emptied before each test."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request).close()
    return moto_endpoint


def aws_client(endpoint: str, service: str, region: str = REGION) -> Any:
    return boto3.client(service, region_name=region, endpoint_url=endpoint, config=_CONFIG,
                        **_CREDENTIALS)


def offline_client(service: str, region: str = REGION) -> Any:
    """A client for Stubber: it never reaches a network."""
    return boto3.client(service, region_name=region, endpoint_url="http://127.0.0.1:9",
                        config=_CONFIG, **_CREDENTIALS)


def moto_target(endpoint: str, region: str = REGION,
                overrides: dict[str, Any] | None = None) -> Target:
    """A target whose clients talk to moto, except services given in ``overrides``."""
    cache: dict[str, Any] = dict(overrides or {})

    def client(service: str) -> Any:
        if service not in cache:
            cache[service] = aws_client(endpoint, service, region)
        return cache[service]

    return Target(account_id=ACCOUNT, region=region, client=client)


def stub_target(clients: dict[str, Any], region: str = REGION) -> Target:
    def client(service: str) -> Any:
        return clients[service]

    return Target(account_id=ACCOUNT, region=region, client=client)


class SplitClient:
    """A client that sends some operations to a stubbed twin and the rest to moto: moto keeps
    Config rules, the stub answers what moto does not implement."""

    def __init__(self, real: Any, stubbed: Any, operations: set[str]):
        self._real = real
        self._stubbed = stubbed
        self._operations = operations

    def _for(self, name: str) -> Any:
        return self._stubbed if name in self._operations else self._real

    def get_paginator(self, name: str) -> Any:
        return self._for(name).get_paginator(name)

    def can_paginate(self, name: str) -> bool:
        return self._for(name).can_paginate(name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._for(name), name)


def stubbed(client: Any) -> tuple[Any, Stubber]:
    stubber = Stubber(client)
    stubber.activate()
    return client, stubber


def collect(observer: Callable[..., Iterator[Any]], *args: Any, **kwargs: Any) -> list[Any]:
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("since", None)
    return list(observer(*args, **kwargs))

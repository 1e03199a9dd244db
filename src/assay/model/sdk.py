"""botocore's static data (service models, endpoint data, partitions), read once per process:
for Assay's own reads (the API's wire protocol, the keyword catalogues' checks) and under the
boto3 sessions its commands make to call an Audit Manager endpoint (`assay apply`, `assay
oscal`). A loader parses each file it reads once and keeps it; a session of its own per client
meant parsing the service model and endpoint rules again for every client (about 55-80 ms of
CPU each)."""

from __future__ import annotations

import functools
import os
import threading
from typing import Any, Callable

import boto3
import botocore.session
from botocore.exceptions import BotoCoreError
from botocore.loaders import Loader, create_loader

_LOADERS: dict[str | None, Loader] = {}
_LOCK = threading.Lock()


def data_loader(data_path: str | None) -> Loader:
    """The process's one botocore data loader for ``data_path`` (os.pathsep-separated folders
    searched before botocore's own; None: botocore's only). It holds the SDK's static data,
    the same whatever the profile, credentials, Region or endpoint."""
    with _LOCK:
        loader = _LOADERS.get(data_path)
        if loader is None:
            loader = _LOADERS[data_path] = create_loader(data_path)
        return loader


@functools.cache
def data_session() -> botocore.session.Session:
    """A botocore session whose data loader reads the data path as botocore would
    (AWS_DATA_PATH, else the profile's ``data_path``), but does not fail when the profile
    cannot be read. A session finds its data path through the AWS profile, so an AWS_PROFILE
    naming a profile this host does not have (or a malformed config file) made every model
    read raise: every API request answered 500 and `assay apply` stopped with a traceback.
    Such a profile has no ``data_path`` to honour; AWS_DATA_PATH still counts."""
    session = botocore.session.get_session()
    try:
        data_path = session.get_config_variable("data_path")
    except BotoCoreError:
        data_path = os.environ.get("AWS_DATA_PATH")
    session.register_component("data_loader", data_loader(data_path))
    return session


def boto3_session(profile_name: str | None = None, region_name: str | None = None,
                  timestamp_parser: Callable[[Any], Any] | None = None) -> boto3.Session:
    """What ``boto3.Session(profile_name=..., region_name=...)`` gives (credentials, profile
    and Region its own, read as boto3 reads them), on the process's shared data loader.
    ``timestamp_parser``: botocore's parser for the timestamps of its clients' responses
    (botocore's own when None). Raises botocore's ProfileNotFound for an unknown profile, as
    boto3 does: reading ``data_path`` reads the profile."""
    core = botocore.session.get_session()
    if profile_name is not None:
        core.set_config_variable("profile", profile_name)
    loader = data_loader(core.get_config_variable("data_path"))
    core.register_component("data_loader", loader)
    if timestamp_parser is not None:
        core.get_component("response_parser_factory").set_parser_defaults(
            timestamp_parser=timestamp_parser)
    session = boto3.Session(botocore_session=core, profile_name=profile_name,
                            region_name=region_name)
    # boto3 adds its own data folder to the loader's search path for every session: once is
    # what a loader of its own would have had.
    with _LOCK:
        loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
    return session

"""botocore's static data (service models, endpoint data) as Assay reads it for itself: the
API's wire protocol, the keyword catalogues' checks. Never used to call AWS."""

from __future__ import annotations

import functools
import os

import botocore.session
from botocore.exceptions import BotoCoreError
from botocore.loaders import create_loader


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
    session.register_component("data_loader", create_loader(data_path))
    return session

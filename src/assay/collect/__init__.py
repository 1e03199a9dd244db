"""Collectors: one module per AWS data source, each a pure transform from AWS responses to
``Observation``s (see ``assay.model.evidence``).

Every collector has the same entry point::

    observe(target, keyword, *, since: float | None, now: float, **source_options)
        -> Iterator[Observation]

``target`` is a ``Target`` (account, region, and ``client(service_name)`` returning a boto3
client the runner made). It raises ``SourceUnavailable`` for what the user can fix and AWS
reports as "nothing there" (rule not deployed, Security Hub off, unknown operation, no trail
logs); every other botocore ``ClientError`` (AccessDenied, throttling after retries)
propagates unchanged for the runner to record. The observers are generators: nothing is called
until the runner iterates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from assay.model.evidence import Observation

from . import api_call, cloudtrail, config, securityhub
from .base import Target
from .cloudtrail import TrailLogReader

Observer = Callable[..., Iterator[Observation]]

COLLECTORS: dict[str, Observer] = {
    "AWS_API_Call": api_call.observe,
    "AWS_Config": config.observe,
    "AWS_Security_Hub": securityhub.observe,
    "AWS_Cloudtrail": cloudtrail.observe,
}


def observe(source_type: str, target: Target, keyword: str, *, since: float | None,
            now: float, **source_options: Any) -> Iterator[Observation]:
    """Dispatch to the collector of ``source_type`` (KeyError if there is none, e.g. MANUAL)."""
    return COLLECTORS[source_type](target, keyword, since=since, now=now, **source_options)


__all__ = ["COLLECTORS", "Observer", "Target", "TrailLogReader", "observe"]

"""Targets: Audit Manager endpoints (an Assay instance or AWS itself) reached with boto3, and
what each one holds. Nothing here knows Assay's internals: only the Audit Manager API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from botocore.config import Config
from botocore.exceptions import BotoCoreError
from botocore.utils import parse_timestamp

from ..model.sdk import boto3_session
from .canonical import control_document, framework_document
from .documents import BadInput, Problem

PAGE_SIZE = 1000  # the model's maximum: a standard library is read in a couple of pages

def _timestamp(value: Any) -> datetime:
    """A timestamp member of a response: epoch seconds (what the JSON protocol carries) become
    an aware UTC datetime directly; anything else goes to botocore's own parser. botocore's
    default builds a dateutil local zone per value, and a standard library listing carries
    two timestamps for each of its thousands of controls: that was most of the cost of a read.
    The instant is the same; only the zone it is shown in (UTC rather than local) differs, and
    nothing here reads a timestamp."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc)
    return parse_timestamp(value)


@dataclass(frozen=True)
class Target:
    endpoint_url: str | None = None
    profile: str | None = None
    region: str | None = None

    @property
    def label(self) -> str:
        parts = [self.endpoint_url or "AWS"]
        if self.profile:
            parts.append(f"profile {self.profile}")
        parts.append(f"region {self.region}" if self.region else "default region")
        return ", ".join(parts)

    def client(self):
        """A boto3 client for this target. Standard retries: a re-run is the cure for what
        they do not absorb, and every apply step is safe to repeat."""
        try:
            # On the process's shared SDK data (model.sdk): a second target's client does not
            # parse the service model and endpoint rules again.
            session = boto3_session(self.profile, self.region, timestamp_parser=_timestamp)
        except BotoCoreError as exc:
            raise BadInput([Problem(self.label, None, "", str(exc))])
        if not session.region_name:
            raise BadInput([Problem(self.label, None, "", "no Region: pass --region or "
                                                          "configure one for the profile")])
        return session.client("auditmanager", endpoint_url=self.endpoint_url,
                              config=Config(retries={"mode": "standard"}))


def targets(endpoint_urls: list[str] | None, profiles: list[str] | None,
            regions: list[str] | None) -> list[Target]:
    """Every target the options name: endpoint URLs and profiles are paired in the order given
    (one value goes with all of the other), and each pair is applied in every Region."""
    endpoint_urls, profiles, regions = endpoint_urls or [], profiles or [], regions or []
    if len(endpoint_urls) > 1 and len(profiles) > 1 and len(endpoint_urls) != len(profiles):
        raise BadInput([Problem("options", None, "--profile", (
            f"{len(endpoint_urls)} endpoint URLs and {len(profiles)} profiles: give one profile "
            "for all endpoints, or one profile per endpoint in the same order"))])
    count = max(len(endpoint_urls), len(profiles), 1)

    def nth(values: list[str], index: int) -> str | None:
        return values[index] if len(values) > 1 else (values[0] if values else None)

    pairs = [(nth(endpoint_urls, i), nth(profiles, i)) for i in range(count)]
    found = [Target(url, profile, region) for url, profile in pairs for region in regions or [None]]
    return list(dict.fromkeys(found))


def walk(call: Callable[..., dict], key: str, **kwargs) -> Iterator[dict]:
    """Every item of an Audit Manager listing (botocore has no paginators for it)."""
    token = None
    while True:
        page = call(maxResults=PAGE_SIZE, **kwargs, **({"nextToken": token} if token else {}))
        yield from page.get(key) or []
        token = page.get("nextToken")
        if not token:
            return


@dataclass
class Existing:
    """A custom control or framework a target has: its ids and its canonical document."""

    id: str
    arn: str
    document: dict[str, Any]
    # Controls: sourceName -> sourceId, so an update keeps the ids evidence refers to.
    # Frameworks: control set name -> control set id.
    part_ids: dict[str, str] = field(default_factory=dict)


class TargetState:
    """What a target holds: its custom controls and frameworks by name, and its standard
    library, standard control name -> ids (more than one: ambiguous) and standard framework
    name -> id.

    The standard library is thousands of controls, and only a definition that names a standard
    control (or a framework that could be one) needs it: it is listed on first use, once per
    state, through ``client``. Given as values (``standard``, ``standard_frameworks``), it is
    never listed. A listing that fails raises from where it is first used (ClientError or
    BotoCoreError, as reading the rest of the state does)."""

    def __init__(self, controls: dict[str, Existing], frameworks: dict[str, Existing],
                 standard: dict[str, list[str]] | None = None,
                 standard_frameworks: dict[str, str] | None = None, client: Any = None):
        self.controls = controls  # custom controls by name
        self.frameworks = frameworks  # custom frameworks by name
        self._client = client
        # Without a client, what is not given is empty (nothing to list it from).
        listed = client is not None
        self._standard = standard if standard is not None or listed else {}
        self._standard_frameworks = (standard_frameworks
                                     if standard_frameworks is not None or listed else {})

    @property
    def standard(self) -> dict[str, list[str]]:
        """Standard control name -> ids. Every id per name: AWS's library repeats names (four
        "IA-2(1)" controls), and a name that matches several controls must be refused, never
        resolved to an arbitrary one."""
        if self._standard is None:
            standard: dict[str, list[str]] = {}
            for meta in walk(self._client.list_controls, "controlMetadataList",
                             controlType="Standard"):
                standard.setdefault(meta["name"], []).append(meta["id"])
            self._standard = standard
        return self._standard

    @property
    def standard_frameworks(self) -> dict[str, str]:
        """Standard framework name -> id."""
        if self._standard_frameworks is None:
            self._standard_frameworks = {meta["name"]: meta["id"] for meta in walk(
                self._client.list_assessment_frameworks, "frameworkMetadataList",
                frameworkType="Standard")}
        return self._standard_frameworks


def read_state(client, earlier: TargetState | None = None) -> TargetState:
    """What a target holds, read with List* and Get* calls only: its custom content now, its
    standard library when first used (see ``TargetState``).

    ``earlier`` is a state read before from the same target: what of its standard library was
    listed is kept, since applying definitions changes custom content only."""
    controls = {}
    for meta in walk(client.list_controls, "controlMetadataList", controlType="Custom"):
        control = client.get_control(controlId=meta["id"])["control"]
        sources = control.get("controlMappingSources") or []
        names = [s["sourceName"] for s in sources]
        controls[control["name"]] = Existing(
            control["id"], control["arn"], control_document(control),
            {s["sourceName"]: s["sourceId"] for s in sources
             if s.get("sourceId") and names.count(s["sourceName"]) == 1})
    frameworks = {}
    for meta in walk(client.list_assessment_frameworks, "frameworkMetadataList",
                     frameworkType="Custom"):
        framework = client.get_assessment_framework(frameworkId=meta["id"])["framework"]
        frameworks[framework["name"]] = Existing(
            framework["id"], framework["arn"], framework_document(framework),
            {s["name"]: s["id"] for s in framework.get("controlSets") or [] if s.get("id")})
    if earlier is None:
        return TargetState(controls, frameworks, client=client)
    return TargetState(controls, frameworks, earlier._standard, earlier._standard_frameworks,
                       client=client)

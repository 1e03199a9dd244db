"""Targets: Audit Manager endpoints (an Assay instance or AWS itself) reached with boto3, and
what each one holds. Nothing here knows Assay's internals: only the Audit Manager API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from .canonical import control_document, framework_document
from .documents import BadInput, Problem

PAGE_SIZE = 1000  # the model's maximum: a standard library is read in a couple of pages


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
            session = boto3.Session(profile_name=self.profile, region_name=self.region)
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


@dataclass
class TargetState:
    controls: dict[str, Existing]  # custom controls by name
    frameworks: dict[str, Existing]  # custom frameworks by name
    standard: dict[str, list[str]]  # standard control name -> ids (more than one: ambiguous)
    standard_frameworks: dict[str, str] = field(default_factory=dict)  # name -> id


def read_state(client) -> TargetState:
    """What a target holds, read with List* and Get* calls only."""
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
    # Every id per name: AWS's library repeats names (four "IA-2(1)" controls), and a name
    # that matches several controls must be refused, never resolved to an arbitrary one.
    standard: dict[str, list[str]] = {}
    for meta in walk(client.list_controls, "controlMetadataList", controlType="Standard"):
        standard.setdefault(meta["name"], []).append(meta["id"])
    standard_frameworks = {meta["name"]: meta["id"] for meta in walk(
        client.list_assessment_frameworks, "frameworkMetadataList", frameworkType="Standard")}
    return TargetState(controls, frameworks, standard, standard_frameworks)

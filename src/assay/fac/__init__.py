"""Frameworks as code: custom controls and frameworks described in YAML or JSON files, applied
to Audit Manager targets (Assay or AWS) through the Audit Manager API with boto3, exported back
to files, and migrated from one account to another. docs/frameworks-as-code.md is the guide.

    documents  read, check and locate library files (schema.json is their JSON Schema)
    canonical  one shape for a control or framework, from a file or from a target
    targets    endpoints x profiles x Regions, and what a target holds
    plan       compare, plan, apply
    export     a target's custom content as files
    migrate    an account's custom content (and assessments) into another
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from botocore.exceptions import BotoCoreError, ClientError

from .documents import BadInput, Definitions, Problem, load
from .plan import Outcome, Plan, apply_plan, error_message, make_plan
from .targets import Target, TargetState, read_state, targets


@dataclass
class Prepared:
    """One target, read and planned; or the reason it could not be."""

    target: Target
    client: Any = None
    state: TargetState | None = None
    plan: Plan | None = None
    error: str | None = None


def prepare(found: list[Target], definitions: Definitions, prune: bool = False) -> list[Prepared]:
    """Read and plan every target before changing any. References that do not resolve on some
    target are bad input for the whole run (``BadInput``); a target that cannot be read is a
    failure of that target alone."""
    problems: list[Problem] = []
    prepared = []
    for target in found:
        item = Prepared(target)
        try:
            item.client = target.client()
            item.state = read_state(item.client)
            item.plan = make_plan(target, definitions, item.state, prune)
        except BadInput as exc:
            problems += exc.problems
        except (ClientError, BotoCoreError) as exc:
            item.error = error_message(exc)
        prepared.append(item)
    if problems:
        raise BadInput(problems)
    return prepared


def apply_each(prepared: list[Prepared], definitions: Definitions,
               prune: bool = False) -> Iterator[tuple[Prepared, Outcome | None]]:
    """Apply each planned target in turn; one target's failure does not stop the others.

    Once something has changed, every later target is read and planned again before it is
    applied: two targets may be one library (two Regions of one Assay, or one endpoint under
    two names), and the second must see what the first did. Its standard library, as far as
    it was listed, is kept: applying definitions changes custom content only."""
    changed = False
    for item in prepared:
        if item.plan is None:
            yield item, None
            continue
        if changed:
            try:
                item.state = read_state(item.client, item.state)
                item.plan = make_plan(item.target, definitions, item.state, prune)
            except BadInput as exc:
                item.plan, item.error = None, "; ".join(str(p) for p in exc.problems)
            except (ClientError, BotoCoreError) as exc:
                item.plan, item.error = None, error_message(exc)
            if item.plan is None:
                yield item, None
                continue
        outcome = apply_plan(item.plan, item.client, item.state)
        changed = changed or bool(outcome.applied)
        yield item, outcome


__all__ = ["BadInput", "Definitions", "Outcome", "Plan", "Prepared", "Problem", "Target",
           "TargetState", "apply_each", "apply_plan", "load", "make_plan", "prepare",
           "read_state", "targets"]

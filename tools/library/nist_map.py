"""The evidence map: which AWS data sources evidence each NIST SP 800-53 Rev. 5 control.

    sources_for("AC-2")            -> API-shaped ControlMappingSource dicts (no sourceId)
    automated_sources_for("AC-2")  -> only the automated ones (may be empty)
    merged_sources(["AC-2", "IA-2"]) -> automated sources of several controls, de-duplicated

Used by the NIST and FedRAMP builders and by the builders of frameworks that map their
requirements to NIST controls, so the same requirement has the same sources everywhere.

Where the sources come from, in order of preference (at most MAX_AUTOMATED per control):
The hand-written tables live in tools/library/tables/ (nist-*.yaml, read by tables.py), each
row with its source:
1. EVIDENCE: our hand-written mapping of controls to AWS API call snapshots and CloudTrail
   events. An enhancement gets only what is listed for it: it never silently inherits the
   base control's sources, because e.g. listing IAM users evidences AC-2 but not AC-2(5).
   Strength `supports` (no verdict).
2. The NIST 800-53 r5 mapping of the Security Hub table (active controls only): each Security
   Hub control plus the Config rule behind it, chosen round-robin across services, most severe
   first. Strength `tests`: AWS states the check evidences the control.
3. EXTRA_HUB / EXTRA_CONFIG: Security Hub controls and Config rules we judged relevant where
   the fact table gives no NIST mapping. Strength `supports`.
4. PACK_RULES: the rules of AWS's NIST 800-53 rev 5 conformance pack that no Security Hub
   control covers, assigned to controls by us. Strength `supports`.
Controls with none of these get one MANUAL source saying what to upload.
"""
from __future__ import annotations

import copy
import functools
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import aws_facts  # noqa: E402
import common  # noqa: E402
import oscal  # noqa: E402
import tables  # noqa: E402

MAX_AUTOMATED = 10

# The hand-written tables (tools/library/tables/*.yaml, each row with its source), as the
# builders use them.
# API call keyword -> what its snapshot shows; CloudTrail keyword -> what the event shows.
API_PURPOSE: dict[str, str] = {
    r["keyword"]: r["purpose"]
    for r in tables.rows("nist-api-calls.yaml", "keyword", {"keyword": str, "purpose": str})}
TRAIL_PURPOSE: dict[str, str] = {
    r["keyword"]: r["purpose"]
    for r in tables.rows("nist-cloudtrail-events.yaml", "keyword", {"keyword": str, "purpose": str})}

_EVIDENCE_ROWS = tables.rows(
    "nist-evidence.yaml", "control",
    {"control": str, "api": list, "cloudtrail": list, "security_hub": list, "config": list},
    optional=("api", "cloudtrail", "security_hub", "config"))
# control -> (API call keywords, CloudTrail keywords). Our judgement; see the module docstring.
EVIDENCE: dict[str, tuple[list[str], list[str]]] = {
    r["control"]: (r.get("api", []), r.get("cloudtrail", []))
    for r in _EVIDENCE_ROWS if "api" in r or "cloudtrail" in r}
# Security Hub controls that the fact table does not map to NIST but that evidence these.
EXTRA_HUB: dict[str, list[str]] = {
    r["control"]: r["security_hub"] for r in _EVIDENCE_ROWS if "security_hub" in r}
# AWS Config managed rules we judged relevant beyond the tables.
EXTRA_CONFIG: dict[str, list[str]] = {
    r["control"]: r["config"] for r in _EVIDENCE_ROWS if "config" in r}
# Rules of the NIST 800-53 rev 5 conformance pack that no Security Hub control covers, with
# the controls we assign them to.
PACK_RULES: dict[str, list[str]] = {
    r["rule"]: r["controls"]
    for r in tables.rows("nist-pack-rules.yaml", "rule", {"rule": str, "controls": list})}
# Services whose Security Hub controls are preferred when a control maps to many.
SERVICE_PRIORITY: list[str] = tables.document("nist-evidence.yaml")["service_priority"]
# NIST control family -> what to upload where no automated source exists.
FAMILY_UPLOAD: dict[str, str] = {
    r["family"]: r["upload"]
    for r in tables.rows("nist-family-uploads.yaml", "family", {"family": str, "upload": str})}


@functools.cache
def _hub_candidates() -> dict[str, list[str]]:
    """NIST display id -> Security Hub control ids whose table row names it."""
    out: dict[str, list[str]] = {}
    for row in aws_facts.active_hub_rows():
        for nid in aws_facts.hub_nist_ids(row):
            out.setdefault(nid, []).append(row["control_id"])
    return out


@functools.cache
def _pack_by_control() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for rule, ids in PACK_RULES.items():
        for nid in ids:
            out.setdefault(nid, []).append(rule)
    return out


def _rank_hub(ids: list[str]) -> list[str]:
    """Most severe first within each service, then round-robin across services by priority."""
    by_service: dict[str, list[str]] = {}
    rows = aws_facts.hub_by_id()
    for cid in ids:
        by_service.setdefault(aws_facts.hub_prefix(cid), []).append(cid)
    for lst in by_service.values():
        lst.sort(key=lambda c: (aws_facts.SEVERITY_RANK.get(rows[c]["severity"], 4), _natural(c)))
    order = [s for s in SERVICE_PRIORITY if s in by_service] + sorted(
        (s for s in by_service if s not in SERVICE_PRIORITY), key=str.lower
    )
    ranked: list[str] = []
    depth = 0
    while len(ranked) < len(ids):
        for s in order:
            if depth < len(by_service[s]):
                ranked.append(by_service[s][depth])
        depth += 1
    return ranked


def _natural(s: str):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", s)]


OUR_REASON = "Assay's reviewers mapped this check to {nid}; AWS's NIST 800-53 mapping does not"


@functools.cache
def _automated(nist_id: str) -> tuple[dict, ...]:
    """Sources of one NIST control, each with its strength: a Security Hub control (and the rule
    behind it) that AWS itself maps to the control `tests` it; our own additions and API or
    CloudTrail evidence `supports` it."""
    out: list[dict] = []
    seen: set[tuple[str, str]] = set()
    aws_mapped = set(_hub_candidates().get(nist_id, []))
    ours = OUR_REASON.format(nid=nist_id)

    def add(source: dict, strength: str = "supports") -> bool:
        if len(out) >= MAX_AUTOMATED:
            return False
        ident = (source["sourceType"], source["sourceKeyword"]["keywordValue"])
        if ident not in seen:
            seen.add(ident)
            out.append(aws_facts.with_strength(source, strength, ours))
        return True

    def add_hub(cid: str):
        row = aws_facts.require_hub(cid)
        rule = row["config_rule_identifier"]
        needed = 1 + (1 if rule and ("AWS_Config", rule) not in seen else 0)
        if ("AWS_Security_Hub", cid) in seen or len(out) + needed > MAX_AUTOMATED:
            return
        strength = "tests" if cid in aws_mapped else "supports"
        add(aws_facts.hub_source(cid), strength)
        if rule:
            add(aws_facts.config_source(rule), strength)

    api, trail = EVIDENCE.get(nist_id, ([], []))
    for kw in api:
        add(aws_facts.api_source(kw, API_PURPOSE[kw]))
    for kw in trail:
        add(aws_facts.trail_source(kw, TRAIL_PURPOSE[kw]))
    # AWS's own mapping before ours, so the cap never crowds out evidence that tests the control.
    for cid in _rank_hub(_hub_candidates().get(nist_id, [])):
        add_hub(cid)
    for cid in EXTRA_HUB.get(nist_id, []):
        add_hub(cid)
    for rule in EXTRA_CONFIG.get(nist_id, []):
        add(aws_facts.config_source(rule))
    for rule in _pack_by_control().get(nist_id, []):
        add(aws_facts.config_source(rule))
    return tuple(out)


def automated_sources_for(nist_id: str) -> list[dict]:
    """Automated sources (API-shaped, without sourceId) evidencing a NIST control; may be empty."""
    return copy.deepcopy(list(_automated(oscal.display_id(nist_id))))


def manual_source_for(nist_id: str) -> dict:
    """The MANUAL source of a control nothing in AWS can evidence: what to upload."""
    nid = oscal.display_id(nist_id)
    control = oscal.catalog().controls.get(nid)
    family = oscal.base_id(nid).split("-")[0]
    title = control.title if control else nid
    if control and nid.endswith("-1") and "(" not in nid:
        what = (
            f"Upload the current {control.family_title.lower()} policy and procedures, showing who "
            "approved them, who owns them, who they were given to, and when they were last "
            "reviewed and updated."
        )
    else:
        what = f"Upload documents that show how {nid} ({title}) is met: {FAMILY_UPLOAD[family]}"
    return aws_facts.manual_source(f"{nid} documentation", what)


def sources_for(nist_id: str) -> list[dict]:
    """Sources for a NIST control: its automated sources, or else one MANUAL source."""
    auto = automated_sources_for(nist_id)
    return auto if auto else [manual_source_for(nist_id)]


def merged_sources(nist_ids: list[str], cap: int = MAX_AUTOMATED) -> list[dict]:
    """Automated sources of several NIST controls, de-duplicated, taking from each in turn."""
    lists = [automated_sources_for(i) for i in nist_ids]
    out: list[dict] = []
    seen: set[tuple[str, str]] = set()
    depth = 0
    while len(out) < cap and any(depth < len(lst) for lst in lists):
        for lst in lists:
            if depth < len(lst) and len(out) < cap:
                s = lst[depth]
                ident = (s["sourceType"], s["sourceKeyword"]["keywordValue"])
                if ident not in seen:
                    seen.add(ident)
                    out.append(s)
        depth += 1
    return out


def check() -> list[str]:
    """Problems in the hand-written tables (unknown ids or keywords, calls that need input)."""
    problems: list[str] = []
    cat = oscal.catalog()
    active = {c.id for c in cat.active()}
    for table in (EVIDENCE, EXTRA_HUB, EXTRA_CONFIG):
        for nid in table:
            if nid not in active:
                problems.append(f"{nid}: not an active control of the catalog")
    for rule, ids in PACK_RULES.items():
        if rule not in aws_facts.conformance_pack(aws_facts.NIST_PACK):
            problems.append(f"{rule}: not in the NIST 800-53 rev 5 conformance pack")
        problems += [f"{rule} -> {i}: not an active control" for i in ids if i not in active]
    for ids in EXTRA_HUB.values():
        problems += [p for p in map(aws_facts.hub_problem, ids) if p]
    for rules in list(EXTRA_CONFIG.values()) + [list(PACK_RULES)]:
        problems += [p for p in map(aws_facts.config_problem, rules) if p]
    from assay.library import keywords

    session = common.botocore_session()
    for api, trail in EVIDENCE.values():
        problems += [f"{kw}: not an AWS_API_Call keyword" for kw in api if not keywords.is_valid_keyword("AWS_API_Call", kw)]
        problems += [f"{kw}: not an AWS_Cloudtrail keyword" for kw in trail if not keywords.is_valid_keyword("AWS_Cloudtrail", kw)]
        for kw in api:
            if kw not in API_PURPOSE:
                problems.append(f"{kw}: no purpose text")
                continue
            client, _, op = kw.partition("_")
            shape = session.get_service_model(client).operation_model(op).input_shape
            if shape is not None and shape.required_members:
                problems.append(f"{kw}: needs input {shape.required_members}; a collector cannot call it bare")
        problems += [f"{kw}: no purpose text" for kw in trail if kw not in TRAIL_PURPOSE]
    return problems

"""AWS facts used by the builders: the Security Hub control table, the Config managed rule
table and the conformance packs (all from tools/library/sources), plus short titles for the
Security Hub controls that we wrote ourselves (tools/library/tables/), and the functions that turn these facts into
API-shaped ControlMappingSource dicts.

Only identifiers and mappings come from the tables. Every sentence here is ours.
"""
from __future__ import annotations

import functools
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import tables  # noqa: E402

if str(common.REPO / "src") not in sys.path:
    sys.path.insert(0, str(common.REPO / "src"))  # assay.library: the loader the output must satisfy

# Our short titles of Security Hub controls (tables/security-hub-titles.yaml): the condition
# a passing resource meets.
HUB_TITLES: dict[str, str] = {
    r["control"]: r["title"]
    for r in tables.rows("security-hub-titles.yaml", "control", {"control": str, "title": str})}

# Security Hub control prefixes and the service each names, for prose (tables/service-names.yaml).
SERVICE_NAMES: dict[str, str] = {
    r["prefix"]: r["name"]
    for r in tables.rows("service-names.yaml", "prefix", {"prefix": str, "name": str})}

_WORDS = tables.document("title-words.yaml")
# First words of titles that are ordinary words (lower-cased mid-sentence); all other first
# words are names (Lambda, Network Firewall, Classic Load Balancers...) and keep their case.
_COMMON_FIRST_WORDS = frozenset(_WORDS["common_first_words"])
# Words of Config rule names spelled as acronyms or product names in derived titles.
_RULE_WORDS: dict[str, str] = {r["word"]: r["spelling"] for r in _WORDS["rule_words"]}


def rule_title(rule_name: str) -> str:
    """A readable title derived from a Config rule name (a fact): 's3-bucket-mfa-delete-enabled'
    -> 'S3 bucket MFA delete enabled'. Used for controls we have not titled by hand."""
    words = [_RULE_WORDS.get(w, w) for w in rule_name.split("-") if w]
    text = " ".join(words)
    return text[0].upper() + text[1:]


def hub_title(control_id: str) -> str:
    """Our short title of a Security Hub control: hand-written, else derived from its rule name."""
    if control_id in HUB_TITLES:
        return HUB_TITLES[control_id]
    return rule_title(hub_by_id()[control_id]["config_rule_name"])


def hub_condition(control_id: str) -> str:
    """What a passing resource meets, as it reads after 'so that' or 'checks that'."""
    if control_id in HUB_TITLES:
        return title_in_sentence(HUB_TITLES[control_id])
    return f"it passes the AWS Config check {hub_by_id()[control_id]['config_rule_name']}"


def title_in_sentence(title: str) -> str:
    """A title as it reads after 'so that ...' or 'checks that ...'."""
    first = title.split(" ", 1)[0]
    return title[0].lower() + title[1:] if first in _COMMON_FIRST_WORDS else title


SEVERITY_RANK = {"Critical": 0, "High": 1, "Medium": 2, "Low": 3, "": 4}
NIST_RE = re.compile(r"NIST\.800-53\.r5 ([A-Z]{2}-\d+(?:\(\d+\))?)")
NIST_PACK = "Operational-Best-Practices-for-NIST-800-53-rev-5"


def hub_prefix(control_id: str) -> str:
    """Canonical service prefix of a Security Hub control id ("Autoscaling.5" -> "AutoScaling")."""
    prefix = control_id.split(".", 1)[0]
    for known in SERVICE_NAMES:
        if known.lower() == prefix.lower():
            return known
    return prefix


@functools.cache
def hub_rows() -> tuple[dict, ...]:
    return tuple(common.read_tsv("aws-security-hub-controls.tsv"))


@functools.cache
def hub_by_id() -> dict[str, dict]:
    return {r["control_id"]: r for r in hub_rows()}


@functools.cache
def config_rules() -> dict[str, dict]:
    return {r["identifier"]: r for r in common.read_tsv("aws-config-managed-rules.tsv")}


def active_hub_rows() -> list[dict]:
    """Rows of the Security Hub controls that are in service (status `active`)."""
    return [r for r in hub_rows() if r["status"] == "active"]


def _did_you_mean(name: str, known) -> str:
    import difflib

    by_lower = {k.lower(): k for k in known}
    hits = [by_lower[name.lower()]] if name.lower() in by_lower else []
    hits += [h for h in difflib.get_close_matches(name, list(known), n=3, cutoff=0.75) if h not in hits]
    return f" (did you mean {', '.join(hits[:3])}?)" if hits else ""


def hub_problem(control_id: str) -> str | None:
    """Why a Security Hub control id cannot be used as evidence, or None when it can.

    Unknown ids (with close matches suggested) and retired controls (which produce no findings,
    so would count as evidence while showing nothing) are refused. Source: the status and notes
    columns of tools/library/sources/aws-security-hub-controls.tsv.
    """
    row = hub_by_id().get(control_id)
    if row is None:
        return (f"unknown Security Hub control {control_id!r}"
                + _did_you_mean(control_id, [r["control_id"] for r in active_hub_rows()]))
    if row["status"] != "active":
        note = row["notes"].split(";")[0].strip() if row["notes"] else ""
        return f"Security Hub control {control_id} is retired" + (f" ({note})" if note else "")
    return None


def config_problem(identifier: str) -> str | None:
    """Why an AWS Config managed rule identifier cannot be used, or None when it can."""
    if identifier in config_rules():
        return None
    return f"unknown AWS Config managed rule {identifier!r}" + _did_you_mean(identifier, config_rules())


def require_hub(control_id: str) -> dict:
    """The table row of a usable Security Hub control; ValueError naming it otherwise."""
    problem = hub_problem(control_id)
    if problem:
        raise ValueError(problem)
    return hub_by_id()[control_id]


def require_config(identifier: str) -> dict:
    """The table row of a known Config managed rule; ValueError naming it otherwise."""
    problem = config_problem(identifier)
    if problem:
        raise ValueError(problem)
    return config_rules()[identifier]


@functools.cache
def conformance_pack(name: str) -> tuple[str, ...]:
    return tuple(
        r["config_rule_identifier"]
        for r in common.read_tsv("aws-conformance-pack-rules.tsv")
        if r["conformance_pack"] == name
    )


def hub_nist_ids(row: dict) -> list[str]:
    return NIST_RE.findall(row["related_requirements"])


def split_resource_types(text: str) -> list[str]:
    return [t.strip(" +") for t in text.split(",") if t.strip(" +")]


def trigger_phrase(trigger: str) -> str:
    t = trigger.lower()
    if "configuration changes" in t and "periodic" in t:
        return "on configuration changes and on a schedule"
    if "periodic" in t:
        return "on a schedule"
    if "change" in t:
        return "whenever a covered resource changes"
    return "as AWS Config schedules it"


# --------------------------------------------------------------------- source dicts

# Why an API snapshot or a CloudTrail event can only support a requirement: neither carries a
# verdict. Used for every AWS_API_Call and AWS_Cloudtrail source in the library.
TYPE_REASONS = {
    "AWS_API_Call": "an API snapshot shows settings for a reviewer to read; it has no pass or fail",
    "AWS_Cloudtrail": "CloudTrail events show what was done, not that the requirement is met",
}


def with_strength(source: dict, strength: str, reason: str | None = None) -> dict:
    """`source` with its mapping strength (see assay.library): `tests` only for Security Hub and
    Config sources; `supports` needs a reason (API calls and CloudTrail have a fixed one).
    Raises ValueError for an impossible combination."""
    stype = source["sourceType"]
    if stype in TYPE_REASONS:
        strength, reason = "supports", TYPE_REASONS[stype]
    if strength not in ("tests", "supports"):
        raise ValueError(f"{source['sourceName']}: strength {strength!r}")
    if strength == "supports" and not reason:
        raise ValueError(f"{source['sourceName']}: a supports mapping needs a reason")
    out = {**source, "strength": strength}
    out.pop("strengthReason", None)
    if strength == "supports":
        out["strengthReason"] = reason
    # The loader puts the strength sentence in front of the description: leave room for it.
    from assay.library import TEXT_MAX, strength_description

    lead = len(strength_description(strength, reason, "")) + 1
    if "sourceDescription" in out:
        out["sourceDescription"] = common.clip(out["sourceDescription"], TEXT_MAX - lead)
    return out


def hub_source(control_id: str) -> dict:
    row = require_hub(control_id)
    return {
        "sourceName": f"Security Hub {control_id}",
        "sourceDescription": (
            f"Security Hub findings for control {control_id}, which checks that {hub_condition(control_id)}. "
            "Each finding names a resource and whether it passed."
        ),
        "sourceSetUpOption": "System_Controls_Mapping",
        "sourceType": "AWS_Security_Hub",
        "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": control_id},
        "troubleshootingText": (
            f"Security Hub must be enabled, with a standard that includes {control_id}, in every "
            "account and Region in scope."
            + (
                f" The check relies on AWS Config recording and the rule {row['config_rule_name']}."
                if row["config_rule_name"]
                else ""
            )
        ),
    }


def config_source(identifier: str) -> dict:
    rule = require_config(identifier)
    types = split_resource_types(rule["resource_types"])
    scope = f" It covers {', '.join(types)}." if types else " It evaluates the account as a whole."
    return {
        "sourceName": f"Config rule {rule['rule_name']}",
        "sourceDescription": (
            f"Compliance results of the AWS Config managed rule {rule['rule_name']} "
            f"({identifier}), evaluated {trigger_phrase(rule['trigger_type'])}.{scope}"
        ),
        "sourceSetUpOption": "System_Controls_Mapping",
        "sourceType": "AWS_Config",
        "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": identifier},
        "troubleshootingText": (
            f"AWS Config must be recording, and the managed rule {identifier} deployed (on its own "
            "or through a conformance pack), in every account and Region in scope."
        ),
    }


def api_source(keyword: str, purpose: str, frequency: str = "DAILY") -> dict:
    client, _, operation = keyword.partition("_")
    return {
        "sourceName": f"API call {client} {operation}",
        "sourceDescription": f"A {frequency.lower()} snapshot of the {client} {operation} response: {purpose}",
        "sourceSetUpOption": "System_Controls_Mapping",
        "sourceType": "AWS_API_Call",
        "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": keyword},
        "sourceFrequency": frequency,
        "troubleshootingText": (
            f"The collection role in each account needs permission to call {client} {operation} "
            "(read-only; for example through the SecurityAudit managed policy)."
        ),
    }


def trail_source(keyword: str, purpose: str) -> dict:
    prefix, _, event = keyword.partition("_")
    return {
        "sourceName": f"CloudTrail {prefix} {event}",
        "sourceDescription": (
            f"CloudTrail records of {event} events from {prefix}.amazonaws.com: {purpose}"
        ),
        "sourceSetUpOption": "System_Controls_Mapping",
        "sourceType": "AWS_Cloudtrail",
        "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": keyword},
        "troubleshootingText": (
            "A CloudTrail trail or event data store must record management events in every "
            "account and Region in scope, and the collection role needs cloudtrail:LookupEvents."
        ),
    }


def manual_source(name: str, what: str) -> dict:
    return {
        "sourceName": name,
        "sourceDescription": what,
        "sourceSetUpOption": "Procedural_Controls_Mapping",
        "sourceType": "MANUAL",
    }

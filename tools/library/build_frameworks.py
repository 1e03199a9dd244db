"""The standard frameworks written by us (CIS AWS, CIS Controls, PCI DSS, HIPAA, SOC 2, GDPR, ...): one loader
that turns the reviewed data files in tools/library/frameworks/*.yaml into library data files.

    .venv/bin/python tools/library/build_frameworks.py          # every framework
    .venv/bin/python tools/library/build_frameworks.py pci-dss-v4.0.1.yaml

Each framework file (field meanings in tools/library/frameworks/README.md) holds the framework,
its control sets and one row per requirement: id, our title and prose, a citation (`source`),
and its evidence as tokens, each in a list so that a mapping change is a one-line diff:

    sh:IAM.9                      AWS_Security_Hub control id (must be active)
    cfg:IAM_PASSWORD_POLICY       AWS_Config managed rule identifier
    api:iam_GetCredentialReport   AWS_API_Call, a read-only operation without required input
    ct:signin_ConsoleLogin        AWS_Cloudtrail <event source prefix>_<EventName>
    @root_mfa                     a bundle from frameworks/bundles.yaml

`tests` lists evidence whose pass shows the requirement met for the resources in scope;
`supports` lists evidence that helps without settling it, and `why` says why for its Security
Hub and Config tokens (API snapshots and CloudTrail events have a fixed reason: no verdict).
A Security Hub token also brings the Config rule behind it, with the same strength.

A file may also declare `groups` (names its rows carry in their own `groups` list) and `subsets`:
extra frameworks over the same controls, each holding the rows of one group with the same control
sets (CIS Controls v8.1: the full IG3 framework plus IG1 and IG2, so an assessment is scoped to an
implementation group the way Audit Manager scopes one, by its framework).

The build fails, naming every offending token and row, on a retired or unknown Security Hub
control, an unknown Config rule, an API call that needs input or a CloudTrail event that does
not exist. Output is deterministic: keys sorted, rows in file order, sources in a fixed order.
"""
from __future__ import annotations

import functools
import importlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import aws_facts  # noqa: E402
import common  # noqa: E402
import domains  # noqa: E402

HERE = Path(__file__).resolve().parent
FRAMEWORKS_DIR = HERE / "frameworks"
DATA_DIR = common.DATA_DIR
REPO = common.REPO
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))  # assay.library: the loader the output must satisfy
SHARED_FILES = ("bundles.yaml", "notes.yaml")

DOMAINS = tuple(domains.DOMAINS)  # the 15 control domains, keyed as in domains.json

# Limits of the botocore auditmanager model (sourceName: the project keeps it to 100).
LIMITS = {
    "control_name": 300,
    "description": 1000,
    "testingInformation": 1000,
    "actionPlanTitle": 300,
    "actionPlanInstructions": 1000,
    "sourceName": 100,
    "sourceDescription": 1000,
    "keywordValue": 100,
    "controlSetName": 300,
    "frameworkDescription": 1000,
    "complianceType": 100,
}
KEYWORD_RE = re.compile(r"^[a-zA-Z_0-9-\s().:\/]+$")
SOURCE_ORDER = ("AWS_Security_Hub", "AWS_Config", "AWS_API_Call", "AWS_Cloudtrail")
PREFIX_TYPE = {"sh": "AWS_Security_Hub", "cfg": "AWS_Config", "api": "AWS_API_Call", "ct": "AWS_Cloudtrail"}
# At most this many automated sources are taken from nist_map per control, so a broad NIST
# control (AC-2, SI-4) cannot bury the hand-picked evidence.
NIST_CAP = 6
NIST_REASON = ("drawn from NIST SP 800-53 r5 {ids}, which this requirement corresponds to; that "
               "evidence is broader than the requirement")
MANUAL_NAME_WORDS = 9
ROW_FIELDS = {"id", "title", "domain", "source", "description", "testing", "tests", "supports",
              "why", "manual", "act", "act_title", "nist", "groups"}
FILE_FIELDS = {"output", "key_prefix", "short_name", "provenance", "framework", "conformance_pack",
               "control_sets", "official_count", "groups", "subsets"}
SUBSET_FIELDS = {"group", "key", "name", "description", "complianceType"}


class BuildError(ValueError):
    """A framework file cannot be built; the message lists every problem, one per line."""


def _yaml(path: Path):
    with open(path, encoding="utf-8") as f:
        return common.load_yaml(f)


@functools.cache
def bundles() -> dict[str, list[str]]:
    return _yaml(FRAMEWORKS_DIR / "bundles.yaml")["bundles"]


@functools.cache
def notes() -> dict[str, dict[str, str]]:
    return _yaml(FRAMEWORKS_DIR / "notes.yaml")


def framework_files() -> list[Path]:
    return sorted(p for p in FRAMEWORKS_DIR.glob("*.yaml") if p.name not in SHARED_FILES)


@functools.cache
def conformance_packs() -> dict[str, set[str]]:
    packs: dict[str, set[str]] = {}
    for r in common.read_tsv("aws-conformance-pack-rules.tsv"):
        packs.setdefault(r["conformance_pack"], set()).add(r["config_rule_identifier"])
    return packs


def _botocore():
    return common.botocore_session()


@functools.cache
def _service_model(client: str):
    return _botocore().get_service_model(client)


_SIGNIN_EVENTS = frozenset({"ConsoleLogin", "CheckMfa", "SwitchRole", "ExitRole"})
# Event source prefixes whose botocore service has another name (the quick path; anything
# else falls back to scanning every service model).
_PREFIX_SERVICE = {"monitoring": "cloudwatch", "access-analyzer": "accessanalyzer", "elasticloadbalancing": "elbv2"}


def _event_prefix(model) -> str:
    prefix = model.endpoint_prefix
    if prefix.startswith("api.") and "." not in prefix[4:]:
        prefix = prefix[4:]
    return prefix


@functools.cache
def _event_sources() -> dict[str, frozenset[str]]:
    """CloudTrail event source prefix -> operation names, over every service (slow: ~3 s)."""
    out: dict[str, set[str]] = {"signin": set(_SIGNIN_EVENTS)}
    for name in _botocore().get_available_services():
        m = _service_model(name)
        out.setdefault(_event_prefix(m), set()).update(m.operation_names)
    return {k: frozenset(v) for k, v in out.items()}


@functools.cache
def _quick_events(prefix: str) -> frozenset[str]:
    if prefix == "signin":
        return _SIGNIN_EVENTS
    name = _PREFIX_SERVICE.get(prefix, prefix)
    if name in _botocore().get_available_services():
        m = _service_model(name)
        if _event_prefix(m) == prefix:
            return frozenset(m.operation_names)
    return frozenset()


def api_call_problem(keyword: str) -> str | None:
    """None if `keyword` is a read-only operation callable without parameters, else why not."""
    client, sep, op = keyword.partition("_")
    if not sep:
        return "no underscore"
    if client not in _botocore().get_available_services():
        return f"no botocore service {client!r}"
    model = _service_model(client)
    if op not in model.operation_names:
        return f"{client} has no operation {op}"
    if not re.match(r"^(List|Describe|Get)[A-Z]", op):
        return "not a List/Describe/Get operation"
    shape = model.operation_model(op).input_shape
    if shape is not None and shape.required_members:
        return f"requires parameters {shape.required_members}"
    return None


def cloudtrail_problem(keyword: str) -> str | None:
    prefix, sep, event = keyword.partition("_")
    if not sep:
        return "no underscore"
    if event in _quick_events(prefix):
        return None
    events = _event_sources().get(prefix)
    if events is None:
        return f"no event source {prefix}.amazonaws.com"
    if event not in events:
        return f"{prefix} has no event {event}"
    return None


def keyword_problem(source_type: str, keyword: str) -> str | None:
    """Why `keyword` cannot be a `source_type` source, or None when it can."""
    if not (1 <= len(keyword) <= LIMITS["keywordValue"]) or not KEYWORD_RE.match(keyword):
        return "keyword breaks Audit Manager's keywordValue pattern or length"
    if source_type == "AWS_Security_Hub":
        return aws_facts.hub_problem(keyword)
    if source_type == "AWS_Config":
        return aws_facts.config_problem(keyword)
    if source_type == "AWS_API_Call":
        return api_call_problem(keyword)
    if source_type == "AWS_Cloudtrail":
        return cloudtrail_problem(keyword)
    return f"unknown source type {source_type}"


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------
@dataclass
class Row:
    """One requirement as reviewed: id, our title and prose, citation, evidence by strength."""

    id: str
    title: str
    domain: str
    source: str
    desc: str
    test: str
    tests: list[str] = field(default_factory=list)
    supports: list[str] = field(default_factory=list)
    why: str | None = None
    manual: str | None = None
    act: str | None = None
    act_title: str | None = None
    nist: str = ""


def _squash(text) -> str | None:
    return " ".join(str(text).split()) if text else None


def row_from(raw: dict, where: str) -> Row:
    """A Row from one YAML mapping; BuildError naming the row for unknown or missing fields."""
    rid = str(raw.get("id", "?"))
    unknown = set(raw) - ROW_FIELDS
    if unknown:
        raise BuildError(f"{where} {rid}: unknown field(s) {sorted(unknown)}")
    missing = [f for f in ("id", "title", "domain", "source", "description", "testing") if not raw.get(f)]
    if missing:
        raise BuildError(f"{where} {rid}: missing {', '.join(missing)}")
    for f in ("tests", "supports"):
        if not isinstance(raw.get(f, []), list):
            raise BuildError(f"{where} {rid}: {f} must be a list of tokens")
    return Row(id=rid, title=_squash(raw["title"]), domain=raw["domain"], source=_squash(raw["source"]),
               desc=_squash(raw["description"]), test=_squash(raw["testing"]),
               tests=[str(t) for t in raw.get("tests", [])], supports=[str(t) for t in raw.get("supports", [])],
               why=_squash(raw.get("why")), manual=_squash(raw.get("manual")), act=_squash(raw.get("act")),
               act_title=_squash(raw.get("act_title")), nist=str(raw.get("nist") or ""))


def expand(tokens: list[str], _seen: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """Expand tokens into ordered, de-duplicated (sourceType, keyword) pairs.

    Raises BuildError for a bad token, an unknown bundle or a bundle cycle."""
    out: list[tuple[str, str]] = []
    for tok in tokens:
        if tok.startswith("@"):
            name = tok[1:]
            if name in _seen:
                raise BuildError(f"bundle cycle at {name}")
            if name not in bundles():
                raise BuildError(f"unknown bundle {tok}")
            pairs = expand(bundles()[name], _seen + (name,))
        else:
            prefix, sep, kw = tok.partition(":")
            if not sep or prefix not in PREFIX_TYPE:
                raise BuildError(f"bad token {tok!r}")
            pairs = [(PREFIX_TYPE[prefix], kw)]
            # A Security Hub control brings the AWS Config rule it runs, so the control is
            # evidenced whether an account uses Security Hub or only AWS Config.
            hub = aws_facts.hub_by_id().get(kw) if prefix == "sh" else None
            rule = hub.get("config_rule_identifier") if hub else None
            if rule and rule in aws_facts.config_rules():
                pairs.append(("AWS_Config", rule))
        for p in pairs:
            if p not in out:
                out.append(p)
    return out


def _ct_note(keyword: str) -> str:
    if keyword in notes()["cloudtrail"]:
        return notes()["cloudtrail"][keyword]
    event = keyword.partition("_")[2]
    parts = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z0-9]+|[A-Z]+", event)
    words = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in parts)
    return f"each '{words}' call, with caller identity, time, source address and parameters"


_TROUBLE = {
    "AWS_Security_Hub": "No evidence: Security Hub must be enabled with a standard that includes {kw} in "
                        "every account and Region in scope.",
    "AWS_Config": "No evidence: AWS Config must be recording and the managed rule {kw} deployed (alone or "
                  "in a conformance pack) in every account and Region in scope.",
    "AWS_API_Call": "No evidence: the collection role needs read-only permission for this call (the "
                    "SecurityAudit managed policy covers it) in every account in scope.",
    "AWS_Cloudtrail": "No events: a trail must record management events in the account and Region, and "
                      "the collection role needs cloudtrail:LookupEvents. No events can also mean the "
                      "action did not happen in the period.",
}


def source(source_type: str, keyword: str) -> dict:
    """An API-shaped ControlMappingSource (without sourceId or strength) for one keyword.

    Raises BuildError naming the keyword when it cannot be used."""
    problem = keyword_problem(source_type, keyword)
    if problem:
        raise BuildError(f"{source_type} {keyword}: {problem}")
    kw = {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": keyword}
    if source_type == "AWS_Security_Hub":
        row = aws_facts.hub_by_id()[keyword]
        note = notes()["security_hub"].get(keyword)
        desc = (f"Security Hub control {keyword} findings: checks that {note}." if note
                else f"Security Hub control {keyword} findings: checks that {aws_facts.hub_condition(keyword)}.")
        if row["config_rule_name"]:
            desc += f" Backed by AWS Config rule {row['config_rule_name']}."
        name = f"Security Hub {keyword}"
    elif source_type == "AWS_Config":
        row = aws_facts.config_rules()[keyword]
        sh_notes = notes()["security_hub"]
        note = next((sh_notes[c] for c, r in sorted(aws_facts.hub_by_id().items())
                     if r["config_rule_identifier"] == keyword and c in sh_notes), None)
        desc = f"AWS Config managed rule {row['rule_name']}: compliance result per evaluated resource"
        desc += f" ({note})." if note else "."
        name = f"Config rule {row['rule_name']}"
    elif source_type == "AWS_API_Call":
        client, _, op = keyword.partition("_")
        note = notes()["api_call"].get(keyword)
        desc = f"Snapshot of {client} {op}" + (f": {note}." if note else ".")
        name = f"API {client} {op}"
    else:
        prefix, _, event = keyword.partition("_")
        desc = f"CloudTrail events {prefix}.amazonaws.com {event}: {_ct_note(keyword)}."
        name = f"CloudTrail {prefix} {event}"
    src = {"sourceName": name[: LIMITS["sourceName"]], "sourceDescription": desc,
           "sourceSetUpOption": "System_Controls_Mapping", "sourceType": source_type, "sourceKeyword": kw,
           "troubleshootingText": _TROUBLE[source_type].format(kw=keyword)}
    if source_type == "AWS_API_Call":
        src["sourceFrequency"] = "DAILY"
    return src


def manual_source(text: str) -> dict:
    words = text.split()
    short = " ".join(words[:MANUAL_NAME_WORDS]).rstrip(",;:.")
    if len(words) > MANUAL_NAME_WORDS:
        short += "..."
    name = f"Manual: {short}"
    if len(name) > LIMITS["sourceName"]:
        name = name[: LIMITS["sourceName"] - 3].rsplit(" ", 1)[0] + "..."
    return {"sourceName": name, "sourceDescription": f"Upload: {text}",
            "sourceSetUpOption": "Procedural_Controls_Mapping", "sourceType": "MANUAL"}


# --------------------------------------------------------------------------------------------
# nist_map: evidence of the NIST SP 800-53 r5 controls a requirement corresponds to
# --------------------------------------------------------------------------------------------
def nist_sources(nist_ids: str) -> list[dict]:
    """Automated sources nist_map gives for the listed NIST controls, all `supports`, in order.

    A NIST id written `~AC-2` is recorded as corresponding but contributes no evidence."""
    import nist_map

    ids = [n for n in nist_ids.split() if not n.startswith("~")]
    out: list[dict] = []
    seen: set[tuple[str, str]] = set()
    reason = NIST_REASON.format(ids=", ".join(ids))
    for nid in ids:
        for s in nist_map.automated_sources_for(nid):
            t = s["sourceType"]
            kw = s["sourceKeyword"]["keywordValue"]
            if (t, kw) in seen or keyword_problem(t, kw):
                continue
            seen.add((t, kw))
            out.append(aws_facts.with_strength(source(t, kw), "supports", reason))
    return out


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------
def _short_list(ids: list[str], limit: int = 8) -> str:
    return ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _strength_problems(row: Row) -> list[str]:
    """Rules of strength: API and CloudTrail tokens never test; a bundle that tests holds a
    check; a Security Hub or Config token that only supports needs `why`."""
    problems = []
    for tok in row.tests:
        if tok.split(":")[0] in ("api", "ct"):
            problems.append(f"{tok} in tests: an API snapshot or CloudTrail event has no verdict")
        elif tok.startswith("@") and tok[1:] in bundles() and not any(
                t in ("AWS_Security_Hub", "AWS_Config") for t, _ in expand([tok])):
            problems.append(f"{tok} in tests holds no Security Hub or Config check")
    checks = [t for t in row.supports if any(s in ("AWS_Security_Hub", "AWS_Config") for s, _ in expand([t]))]
    if checks and not row.why:
        problems.append(f"supports {', '.join(checks)} without a why")
    if row.why and not checks:
        problems.append("why given but no Security Hub or Config check in supports")
    return problems


def control_record(doc: dict, row: Row, use_nist: bool) -> dict:
    problems = _strength_problems(row)
    # Every unusable token of the row is named at once, so one build run lists them all.
    problems += [f"{t} {kw}: {p}" for t, kw in expand(row.tests + row.supports)
                 if (p := keyword_problem(t, kw))]
    if problems:
        raise BuildError("; ".join(problems))
    sources: list[dict] = []
    have: set[tuple[str, str]] = set()
    for strength, tokens in (("tests", row.tests), ("supports", row.supports)):
        for t, kw in expand(tokens):
            if (t, kw) in have:
                continue  # listed under tests too: tests wins
            have.add((t, kw))
            sources.append(aws_facts.with_strength(source(t, kw), strength, row.why))
    # NIST-mapped evidence is added only where the row itself has automated evidence: for a
    # purely procedural requirement the NIST control's AWS checks would be noise.
    if use_nist and row.nist and sources:
        added = [s for s in nist_sources(row.nist)
                 if (s["sourceType"], s["sourceKeyword"]["keywordValue"]) not in have]
        sources += added[:NIST_CAP]
    sources.sort(key=lambda s: (SOURCE_ORDER.index(s["sourceType"]), s["strength"] != "tests"))
    if row.manual:
        sources.append(manual_source(row.manual))
    if not sources:
        raise BuildError("no evidence source")

    checks = [s["sourceKeyword"]["keywordValue"] for s in sources
              if s["sourceType"] in ("AWS_Security_Hub", "AWS_Config") and s["strength"] == "tests"]
    parts = []
    if row.act:
        parts.append(row.act)
    if checks:
        parts.append(f"Clear failed findings of {_short_list(checks)} in every in-scope account and Region.")
    if row.manual:
        parts.append(f"Evidence to upload: {row.manual}")
    instructions = " ".join(parts) or "Review the collected evidence against the requirement."
    if len(instructions) > LIMITS["actionPlanInstructions"]:
        instructions = instructions[: LIMITS["actionPlanInstructions"] - 1].rsplit(" ", 1)[0] + "\u2026"

    return {
        "key": doc["key_prefix"] + row.id,
        "name": f"{doc['short_name']} {row.id} {row.title}",
        "description": row.desc,
        "testingInformation": row.test,
        "actionPlanTitle": row.act_title or row.title,
        "actionPlanInstructions": instructions,
        "domain": row.domain,
        "controlMappingSources": sources,
    }


def check_record(rec: dict) -> list[str]:
    """Problems with one control record (limits, domain, keywords, strength); empty when fine."""
    from assay.library import strength_description

    errs = []
    k = rec["key"]
    if not (1 <= len(rec["name"]) <= LIMITS["control_name"]) or "\\" in rec["name"]:
        errs.append(f"{k}: name length/backslash")
    for f in ("description", "testingInformation", "actionPlanInstructions"):
        if not rec.get(f) or len(rec[f]) > LIMITS[f]:
            errs.append(f"{k}: {f} empty or longer than {LIMITS[f]} ({len(rec.get(f) or '')})")
    if not rec.get("actionPlanTitle") or len(rec["actionPlanTitle"]) > LIMITS["actionPlanTitle"]:
        errs.append(f"{k}: actionPlanTitle")
    if rec["domain"] not in DOMAINS:
        errs.append(f"{k}: domain {rec['domain']}")
    for s in rec["controlMappingSources"]:
        if not (1 <= len(s["sourceName"]) <= LIMITS["sourceName"]):
            errs.append(f"{k}: sourceName {s['sourceName']!r}")
        shown = s.get("sourceDescription", "")
        if s["sourceType"] != "MANUAL":
            shown = strength_description(s["strength"], s.get("strengthReason"), shown)
        if len(shown) > LIMITS["sourceDescription"]:
            errs.append(f"{k}: sourceDescription too long")
        if s["sourceType"] == "MANUAL":
            continue
        if len(s.get("troubleshootingText", "")) > 1000:
            errs.append(f"{k}: troubleshootingText too long")
    return errs


def _subset_frameworks(doc: dict, where: str, errors: list[str]) -> list[dict]:
    """The extra frameworks a file's `subsets` declare, each holding the rows whose `groups` name
    its group (CIS Controls: IG1 and IG2 beside the full framework), control sets kept in order
    and those left empty dropped. Problems are appended to `errors`, naming the row or subset."""
    groups = doc.get("groups") or []
    subsets = doc.get("subsets") or []
    for cs in doc["control_sets"]:
        for raw in cs["controls"]:
            got = raw.get("groups")
            if groups and (not isinstance(got, list) or not got or set(got) - set(groups)):
                errors.append(f"{where} {raw.get('id', '?')}: groups must be a non-empty list from {groups}")
            elif not groups and got:
                errors.append(f"{where} {raw.get('id', '?')}: groups given but the file declares none")
    out = []
    for sub in subsets:
        if set(sub) - SUBSET_FIELDS or sub.get("group") not in groups:
            errors.append(f"{where}: subset {sub.get('key')!r}: fields {sorted(SUBSET_FIELDS)}, group one of {groups}")
            continue
        sets = []
        for cs in doc["control_sets"]:
            keys = [doc["key_prefix"] + str(r["id"]) for r in cs["controls"] if sub["group"] in (r.get("groups") or [])]
            if keys:
                sets.append({"name": cs["name"], "controls": keys})
        if not sets:
            errors.append(f"{where}: subset {sub['key']!r} holds no control")
        fw = {k: sub[k] for k in ("key", "name", "description")}
        fw["complianceType"] = sub.get("complianceType", doc["framework"]["complianceType"])
        fw["controlSets"] = sets
        out.append(fw)
    return out


def build_payload(doc: dict, where: str = "framework", use_nist: bool = True) -> dict:
    """The library data file for one framework document (a parsed YAML file).

    Raises BuildError listing every problem found, each with the row id and the token."""
    unknown = set(doc) - FILE_FIELDS
    if unknown:
        raise BuildError(f"{where}: unknown top-level field(s) {sorted(unknown)}")
    controls, sets, keys, errors = [], [], set(), []
    for cs in doc["control_sets"]:
        set_name = cs["name"]
        if not (1 <= len(set_name) <= LIMITS["controlSetName"]) or "_" in set_name or "\\" in set_name:
            errors.append(f"{where}: bad control set name {set_name!r}")
        members = []
        for raw in cs["controls"]:
            try:
                row = row_from(raw, where)
                rec = control_record(doc, row, use_nist)
            except (BuildError, ValueError) as e:
                errors.append(f"{where} {raw.get('id', '?')}: {e}")
                continue
            if rec["key"] in keys:
                errors.append(f"{where}: duplicate control {rec['key']}")
            errors += check_record(rec)
            keys.add(rec["key"])
            controls.append(rec)
            members.append(rec["key"])
        sets.append({"name": set_name, "controls": members})
    fw = dict(doc["framework"])
    fw["controlSets"] = sets
    frameworks = [fw] + _subset_frameworks(doc, where, errors)
    for f in frameworks:
        if not (1 <= len(f["description"]) <= LIMITS["frameworkDescription"]):
            errors.append(f"{where}: framework {f['key']} description length")
        if len(f["complianceType"]) > LIMITS["complianceType"]:
            errors.append(f"{where}: framework {f['key']} complianceType length")
    if errors:
        raise BuildError("\n".join(errors))
    provenance = " ".join(doc["provenance"].split())
    if use_nist and any(r.get("nist") for cs in doc["control_sets"] for r in cs["controls"]):
        provenance += (" Evidence also drawn from the NIST SP 800-53 r5 evidence map "
                       "(tools/library/nist_map.py) for the NIST controls each requirement corresponds to.")
    return {"provenance": provenance, "controls": controls, "frameworks": frameworks}


def dumps(payload: dict) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def load(path: Path) -> dict:
    """One framework file, parsed."""
    return _yaml(path)


def build(path: Path, out_dir: Path | None = None, use_nist: bool = True) -> Path:
    """Build one framework file into out_dir (default: the library data folder)."""
    out_dir = Path(out_dir) if out_dir else DATA_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = load(path)
    payload = build_payload(doc, path.name, use_nist=use_nist)
    out = out_dir / doc["output"]
    data = dumps(payload)
    if not out.exists() or out.read_bytes() != data:
        out.write_bytes(data)
    n = len(payload["controls"])
    tests = sum(any(s.get("strength") == "tests" for s in c["controlMappingSources"]) for c in payload["controls"])
    try:
        shown = out.relative_to(REPO)
    except ValueError:
        shown = out
    print(f"wrote {shown}: {n} controls, {tests} tested by automated evidence")
    return out


def main(argv: list[str] | None = None, out_dir: Path | None = None) -> list[Path]:
    """Build every framework file (or those named); BuildError lists all problems of all files."""
    names = argv if argv is not None else sys.argv[1:]
    paths = [FRAMEWORKS_DIR / n for n in names] if names else framework_files()
    built, errors = [], []
    for path in paths:
        try:
            built.append(build(path, out_dir))
        except BuildError as e:
            errors.append(str(e))
    if errors:
        raise BuildError("\n".join(errors))
    return built


if __name__ == "__main__":
    try:
        main()
    except BuildError as e:
        raise SystemExit(f"library build failed:\n{e}")

"""The hand-authored standard frameworks: CIS AWS v3.0.0, PCI DSS v4.0, HIPAA, SOC 2, GDPR.

Checks the shipped data files (src/assay/library/data) against their sources in
tools/library/extra and against the facts: keywords are checked here directly against the
content TSVs and botocore, without relying on the library loader or keyword catalogue; the
loader is exercised separately at the end.
"""
from __future__ import annotations

import csv
import importlib
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path

import botocore.session
import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "src" / "assay" / "library" / "data"
EXTRA = REPO / "tools" / "library" / "extra"
CONTENT = Path(os.environ.get("ASSAY_CONTENT_DIR", REPO.parent / "shared" / "content"))

# file -> (builder module, key prefix, framework key, number of controls, number of control sets)
FILES = {
    "cis-aws-foundations.json": ("build_cis", "CIS-AWS-v3.0/", "cis-aws-foundations-v3.0", 62, 5),
    "pci-dss-v4.json": ("build_pci", "PCI-DSS-v4/", "pci-dss-v4.0", 250, 12),
    "hipaa-security.json": ("build_hipaa", "HIPAA/", "hipaa-security-rule", 65, 5),
    "soc2.json": ("build_soc2", "SOC2/", "soc2-tsc-2017", 61, 13),
    "gdpr.json": ("build_gdpr", "GDPR/", "gdpr", 31, 7),
}
DOMAINS = {
    "identity-and-access-management", "logging-and-monitoring", "data-protection", "network-security",
    "incident-response", "configuration-management", "vulnerability-management",
    "business-continuity-and-resilience", "governance-risk-and-compliance", "asset-management",
    "security-awareness-and-training", "physical-and-environmental-security",
    "third-party-and-supply-chain", "privacy", "secure-development",
}
KEYWORD_RE = re.compile(r"^[a-zA-Z_0-9-\s().:\/]+$")
AUTOMATED = ("AWS_Security_Hub", "AWS_Config", "AWS_API_Call", "AWS_Cloudtrail")


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module", params=sorted(FILES))
def datafile(request):
    return request.param, load(request.param)


def ids(payload: dict, prefix: str) -> list[str]:
    return [c["key"].removeprefix(prefix) for c in payload["controls"]]


# --------------------------------------------------------------------------- reference facts
def _tsv(name: str, column: str) -> set[str]:
    with open(CONTENT / name, newline="", encoding="utf-8") as f:
        return {row[column].strip() for row in csv.DictReader(f, delimiter="\t")}


@pytest.fixture(scope="module")
def facts():
    session = botocore.session.get_session()
    services = set(session.get_available_services())
    models: dict[str, object] = {}

    def model(name):
        if name not in models:
            models[name] = session.get_service_model(name)
        return models[name]

    def event_ops(prefix: str) -> set[str]:
        if prefix == "signin":
            return {"ConsoleLogin", "CheckMfa", "SwitchRole", "ExitRole"}
        ops: set[str] = set()
        for name in services:
            m = model(name)
            p = m.endpoint_prefix
            p = p[4:] if p.startswith("api.") else p
            if p == prefix:
                ops |= set(m.operation_names)
        return ops

    return {
        "hub": _tsv("aws-security-hub-controls.tsv", "control_id"),
        "config": _tsv("aws-config-managed-rules.tsv", "identifier"),
        "services": services,
        "model": model,
        "event_ops": event_ops,
    }


# --------------------------------------------------------------------------- structure
def test_every_file_parses_with_one_framework(datafile):
    name, payload = datafile
    assert set(payload) == {"provenance", "controls", "frameworks"}
    assert payload["provenance"].strip()
    assert len(payload["frameworks"]) == 1
    fw = payload["frameworks"][0]
    assert fw["key"] == FILES[name][2]
    assert 1 <= len(fw["name"]) <= 300 and "\\" not in fw["name"]
    assert 1 <= len(fw["description"]) <= 1000
    assert 1 <= len(fw["complianceType"]) <= 100


def test_counts_keys_and_control_sets(datafile):
    name, payload = datafile
    _, prefix, _, n_controls, n_sets = FILES[name]
    keys = [c["key"] for c in payload["controls"]]
    assert len(keys) == n_controls
    assert len(set(keys)) == len(keys), [k for k, n in Counter(keys).items() if n > 1]
    assert all(k.startswith(prefix) for k in keys)
    sets = payload["frameworks"][0]["controlSets"]
    assert len(sets) == n_sets
    listed = [k for s in sets for k in s["controls"]]
    assert sorted(listed) == sorted(keys), "each control is in exactly one control set"
    for s in sets:
        assert 1 <= len(s["name"]) <= 300
        assert "_" not in s["name"] and "\\" not in s["name"]
        assert s["controls"]


def test_names_start_with_the_requirement_id(datafile):
    name, payload = datafile
    prefix = FILES[name][1]
    for c in payload["controls"]:
        assert c["name"].startswith(c["key"].removeprefix(prefix) + " "), c["key"]


def test_limits_domains_and_sources(datafile):
    _, payload = datafile
    for c in payload["controls"]:
        k = c["key"]
        assert 1 <= len(c["name"]) <= 300 and "\\" not in c["name"], k
        for f in ("description", "testingInformation", "actionPlanInstructions"):
            assert 1 <= len(c[f]) <= 1000, (k, f)
        assert 1 <= len(c["actionPlanTitle"]) <= 300, k
        assert c["domain"] in DOMAINS, (k, c["domain"])
        srcs = c["controlMappingSources"]
        assert 1 <= len(srcs) <= 100, k
        seen = set()
        for s in srcs:
            assert 1 <= len(s["sourceName"]) <= 100, (k, s["sourceName"])
            assert len(s.get("sourceDescription", "")) <= 1000, k
            assert len(s.get("troubleshootingText", "")) <= 1000, k
            if s["sourceType"] == "MANUAL":
                assert s["sourceSetUpOption"] == "Procedural_Controls_Mapping", k
                assert "sourceKeyword" not in s and "sourceFrequency" not in s, k
                assert s["sourceDescription"].strip(), k
                continue
            assert s["sourceType"] in AUTOMATED, k
            assert s["sourceSetUpOption"] == "System_Controls_Mapping", k
            kw = s["sourceKeyword"]
            assert kw["keywordInputType"] == "SELECT_FROM_LIST", k
            assert 1 <= len(kw["keywordValue"]) <= 100 and KEYWORD_RE.match(kw["keywordValue"]), k
            assert ("sourceFrequency" in s) == (s["sourceType"] == "AWS_API_Call"), k
            if "sourceFrequency" in s:
                assert s["sourceFrequency"] in ("DAILY", "WEEKLY", "MONTHLY"), k
            ident = (s["sourceType"], kw["keywordValue"])
            assert ident not in seen, (k, ident)
            seen.add(ident)


def test_every_keyword_exists(datafile, facts):
    _, payload = datafile
    bad = []
    for c in payload["controls"]:
        for s in c["controlMappingSources"]:
            t = s["sourceType"]
            if t == "MANUAL":
                continue
            kw = s["sourceKeyword"]["keywordValue"]
            if t == "AWS_Security_Hub" and kw not in facts["hub"]:
                bad.append((c["key"], t, kw))
            elif t == "AWS_Config" and kw not in facts["config"]:
                bad.append((c["key"], t, kw))
            elif t == "AWS_API_Call":
                client, _, op = kw.partition("_")
                ok = client in facts["services"] and op in facts["model"](client).operation_names
                ok = ok and re.match(r"^(List|Describe|Get)[A-Z]", op) is not None
                if ok:
                    shape = facts["model"](client).operation_model(op).input_shape
                    ok = shape is None or not shape.required_members  # callable without input
                if not ok:
                    bad.append((c["key"], t, kw))
            elif t == "AWS_Cloudtrail":
                prefix, _, event = kw.partition("_")
                if event not in facts["event_ops"](prefix):
                    bad.append((c["key"], t, kw))
    assert not bad, bad[:20]


def test_keywords_are_in_the_catalogue_when_present(datafile):
    from assay.library import keywords

    _, payload = datafile
    bad = [(c["key"], s["sourceKeyword"]["keywordValue"]) for c in payload["controls"]
           for s in c["controlMappingSources"] if s["sourceType"] != "MANUAL"
           and not keywords.is_valid_keyword(s["sourceType"], s["sourceKeyword"]["keywordValue"])]
    assert not bad, bad[:20]


# --------------------------------------------------------------------------- content
def test_well_known_ids_present():
    expect = {
        "cis-aws-foundations.json": ["1.4", "1.5", "1.10", "1.22", "2.1.1", "2.1.4", "2.4.1", "3.1", "3.9",
                                     "4.1", "4.16", "5.1", "5.6"],
        "pci-dss-v4.json": ["1.1.1", "1.2.1", "3.5.1.2", "8.3.6", "8.4.2", "9.5.1.2.1", "10.2.1",
                            "10.2.1.7", "11.6.1", "12.10.7"],
        "hipaa-security.json": ["164.308(a)(1)(ii)(A)", "164.308(b)(3)", "164.310(d)(2)(iv)", "164.312(b)",
                                "164.312(a)(2)(iv)", "164.314(a)(2)(iii)", "164.316(b)(2)(iii)"],
        "soc2.json": ["CC1.1", "CC6.1", "CC6.8", "CC8.1", "CC9.2", "A1.3", "C1.2", "PI1.5", "P8.1"],
        "gdpr.json": ["Art.5(1)(f)", "Art.24", "Art.25", "Art.28", "Art.30", "Art.32", "Art.32(1)(a)",
                      "Art.33", "Art.34", "Art.35", "Art.37", "Art.46"],
    }
    for name, wanted in expect.items():
        have = set(ids(load(name), FILES[name][1]))
        assert not set(wanted) - have, (name, set(wanted) - have)


def test_cis_sections():
    payload = load("cis-aws-foundations.json")
    counts = Counter(i.split(".")[0] for i in ids(payload, "CIS-AWS-v3.0/"))
    assert counts == {"1": 22, "2": 9, "3": 9, "4": 16, "5": 6}
    expected_storage = ["2.1.1", "2.1.2", "2.1.3", "2.1.4", "2.2.1", "2.3.1", "2.3.2", "2.3.3", "2.4.1"]
    assert [i for i in ids(payload, "CIS-AWS-v3.0/") if i.startswith("2.")] == expected_storage
    # v1.4.0 mappings carried to v3.0.0: root MFA, flow logs, default security group
    by = {c["key"]: {s["sourceKeyword"]["keywordValue"] for s in c["controlMappingSources"]
                     if s["sourceType"] != "MANUAL"} for c in payload["controls"]}
    assert "IAM.9" in by["CIS-AWS-v3.0/1.5"]
    assert "EC2.6" in by["CIS-AWS-v3.0/3.7"]
    assert "EC2.2" in by["CIS-AWS-v3.0/5.4"]
    assert "CloudWatch.2" in by["CIS-AWS-v3.0/4.1"]


def test_pci_requirement_counts():
    payload = load("pci-dss-v4.json")
    counts = Counter(i.split(".")[0] for i in ids(payload, "PCI-DSS-v4/"))
    assert counts == {"1": 19, "2": 11, "3": 29, "4": 6, "5": 13, "6": 19, "7": 12, "8": 29, "9": 27,
                      "10": 27, "11": 21, "12": 37}
    sets = payload["frameworks"][0]["controlSets"]
    for n, s in enumerate(sets, start=1):
        assert s["name"].startswith(f"Requirement {n} ")
        assert all(k.removeprefix("PCI-DSS-v4/").split(".")[0] == str(n) for k in s["controls"])


def test_pci_nist_references_are_active_800_53_controls():
    catalog = json.loads((CONTENT / "nist-sp800-53-r5" / "NIST_SP-800-53_rev5_catalog-min.json").read_text())
    active: set[str] = set()

    def walk(controls):
        for ctl in controls:
            props = {p["name"]: p["value"] for p in ctl.get("props", [])}
            if props.get("status") != "withdrawn" and "label" in props:
                active.add(props["label"])
            walk(ctl.get("controls", []))

    for group in catalog["catalog"]["groups"]:
        walk(group.get("controls", []))
    sys.path.insert(0, str(EXTRA))
    pci = importlib.import_module("pci_dss_v4")
    rows = [r for _, rs in pci.CONTROL_SETS for r in rs]
    assert all(r.nist for r in rows), [r.id for r in rows if not r.nist]
    bad = [(r.id, n) for r in rows for n in r.nist.split() if n.lstrip("~") not in active]
    assert not bad, bad


@pytest.mark.parametrize("name, module", [
    ("cis-aws-foundations.json", "cis_aws_v3"),
    ("hipaa-security.json", "hipaa_security"),
    ("pci-dss-v4.json", "pci_dss_v4"),
])
def test_conformance_pack_is_the_backbone(name, module):
    """Every managed rule of the framework's AWS conformance pack is placed on some control,
    except the ones the content module leaves out on purpose (with a reason)."""
    sys.path.insert(0, str(EXTRA))
    mod = importlib.import_module(module)
    with open(CONTENT / "aws-conformance-pack-rules.tsv", newline="", encoding="utf-8") as f:
        pack = {r["config_rule_identifier"] for r in csv.DictReader(f, delimiter="\t")
                if r["conformance_pack"] == mod.PACK}
    assert pack, mod.PACK
    known = pack & _tsv("aws-config-managed-rules.tsv", "identifier")
    used = {s["sourceKeyword"]["keywordValue"] for c in load(name)["controls"]
            for s in c["controlMappingSources"] if s["sourceType"] == "AWS_Config"}
    assert known - used == set(mod.PACK_EXCLUDED), "place these rules or list them in PACK_EXCLUDED"
    assert all(reason.strip() for reason in mod.PACK_EXCLUDED.values())


def test_hipaa_titles_and_required_addressable():
    payload = load("hipaa-security.json")
    by = {c["key"]: c for c in payload["controls"]}
    titles = {
        "164.308(a)(1)(ii)(A)": "Risk analysis",
        "164.308(a)(5)(ii)(C)": "Log-in monitoring",
        "164.310(d)(2)(i)": "Disposal",
        "164.312(a)(2)(iv)": "Encryption and decryption",
        "164.312(b)": "Audit controls",
        "164.312(c)(2)": "Mechanism to authenticate electronic protected health information",
        "164.316(b)(2)(i)": "Time limit",
    }
    for sec, title in titles.items():
        assert by["HIPAA/" + sec]["name"] == f"{sec} {title}"
    for c in payload["controls"]:
        d = c["description"]
        assert d.startswith(("Standard.", "Implementation specification (required)",
                             "Implementation specification (addressable")), c["key"]
    assert by["HIPAA/164.312(a)(2)(iii)"]["description"].startswith("Implementation specification (addressable")
    assert by["HIPAA/164.312(a)(2)(i)"]["description"].startswith("Implementation specification (required)")
    assert "45 CFR Part 164 Subpart C" in payload["provenance"]


def test_soc2_criteria_complete():
    have = ids(load("soc2.json"), "SOC2/")
    series = {"CC1": 5, "CC2": 3, "CC3": 4, "CC4": 2, "CC5": 3, "CC6": 8, "CC7": 5, "CC8": 1, "CC9": 2,
              "A1": 3, "C1": 2, "PI1": 5}
    expected = [f"{s}.{i}" for s, n in series.items() for i in range(1, n + 1)]
    expected += ["P1.1", "P2.1", "P3.1", "P3.2", "P4.1", "P4.2", "P4.3", "P5.1", "P5.2"]
    expected += [f"P6.{i}" for i in range(1, 8)] + ["P7.1", "P8.1"]
    assert have == expected


def test_gdpr_titles_and_provenance():
    payload = load("gdpr.json")
    by = {c["key"]: c["name"] for c in payload["controls"]}
    assert by["GDPR/Art.32"] == "Art.32 Security of processing"
    assert by["GDPR/Art.25"] == "Art.25 Data protection by design and by default"
    assert by["GDPR/Art.33"] == "Art.33 Notification of a personal data breach to the supervisory authority"
    assert "2016/679" in payload["provenance"] and "EUR-Lex" in payload["provenance"]


def test_copyrighted_standards_credit_and_disclaim():
    for name in ("cis-aws-foundations.json", "pci-dss-v4.json", "soc2.json"):
        prov = load(name)["provenance"]
        assert "written by Assay" in prov and "not the" in prov, name


def test_automation_share():
    share = {}
    for name in FILES:
        ctrls = load(name)["controls"]
        auto = sum(any(s["sourceType"] != "MANUAL" for s in c["controlMappingSources"]) for c in ctrls)
        share[name] = auto / len(ctrls)
    # CIS is a technical benchmark: all but 1.3 (security questions) are evidenced from AWS.
    assert share["cis-aws-foundations.json"] == 61 / 62
    assert share["pci-dss-v4.json"] > 0.4
    assert share["hipaa-security.json"] > 0.5
    assert share["gdpr.json"] > 0.4


def test_controls_without_full_automation_ask_for_a_document():
    # A control evidenced only by CloudTrail events may legitimately have no events in a period;
    # every control must have something that always produces evidence.
    for name in FILES:
        for c in load(name)["controls"]:
            types = {s["sourceType"] for s in c["controlMappingSources"]}
            assert types - {"AWS_Cloudtrail"}, c["key"]


# --------------------------------------------------------------------------- builders
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    sys.path.insert(0, str(EXTRA))
    out1, out2 = tmp_path_factory.mktemp("run1"), tmp_path_factory.mktemp("run2")
    for name, (module, *_rest) in FILES.items():
        mod = importlib.import_module(module)
        mod.main(out1)
        mod.main(out2)
    return out1, out2


def test_builders_are_deterministic(built):
    out1, out2 = built
    for name in FILES:
        assert (out1 / name).read_bytes() == (out2 / name).read_bytes(), name


def test_shipped_files_match_their_sources(built):
    out1, _ = built
    stale = [name for name in FILES if (out1 / name).read_bytes() != (DATA / name).read_bytes()]
    assert not stale, f"regenerate with tools/library/extra/build_*.py: {stale}"


def test_validators_reject_bad_input():
    sys.path.insert(0, str(EXTRA))
    ec = importlib.import_module("extra_common")
    assert ec.keyword_problem("AWS_Security_Hub", "IAM.999")
    assert ec.keyword_problem("AWS_Config", "NOT_A_RULE")
    assert ec.keyword_problem("AWS_API_Call", "iam_CreateUser")  # not read-only
    assert ec.keyword_problem("AWS_API_Call", "s3_GetBucketPolicy")  # needs a parameter
    assert ec.keyword_problem("AWS_API_Call", "nosuchservice_ListThings")
    assert ec.keyword_problem("AWS_Cloudtrail", "iam_NoSuchEvent")
    assert ec.keyword_problem("AWS_Cloudtrail", "iam CreateUser")
    assert ec.keyword_problem("AWS_Security_Hub", "IAM.1") is None
    assert ec.keyword_problem("AWS_Cloudtrail", "signin_ConsoleLogin") is None
    assert ec.keyword_problem("AWS_Cloudtrail", "monitoring_PutMetricAlarm") is None
    rec = ec.control_record(
        type("M", (), {"KEY_PREFIX": "X/", "NAME_PREFIX": ""}),
        ec.C("1", "t", "not-a-domain", "d", "t", auto="sh:IAM.1"), use_nist=False)
    assert any("domain" in e for e in ec.check_record(rec))
    with pytest.raises(ValueError):
        ec.source("AWS_Config", "NOT_A_RULE")
    with pytest.raises(KeyError):
        ec.expand("@no_such_bundle")


# --------------------------------------------------------------------------- loader
def test_loader_accepts_the_files(tmp_path):
    from assay.library import load_library

    for name in FILES:
        (tmp_path / name).write_bytes((DATA / name).read_bytes())
    lib = load_library(tmp_path)
    for name, (_, prefix, fw_key, n_controls, n_sets) in FILES.items():
        fw = lib.framework_by_key(fw_key)
        assert fw is not None, fw_key
        assert len(fw.control_sets) == n_sets
        assert len(fw.control_ids) == n_controls
    assert lib.control_by_key("PCI-DSS-v4/8.4.2") is not None
    assert lib.control_by_key("HIPAA/164.312(b)") is not None


def test_default_library_includes_the_frameworks():
    from assay.library import load_library

    lib = load_library()
    for _, (_, _, fw_key, _, _) in FILES.items():
        assert lib.framework_by_key(fw_key) is not None, fw_key

"""The standard library loader (assay.library) and the data files it ships."""
from __future__ import annotations

import csv
import gzip
import io
import json
import re
import shutil
import sys
import uuid
from pathlib import Path

import pytest

import assay.library as library_module
from assay.library import (
    ASSAY_NS,
    DATA_DIR,
    LIBRARY_TIMESTAMP,
    LibraryError,
    keywords,
    load_library,
)

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / "tools" / "library"
SOURCES = TOOLS / "sources"  # the builders' inputs, kept in the repository

DOMAIN_KEYS = {
    "identity-and-access-management", "logging-and-monitoring", "data-protection",
    "network-security", "incident-response", "configuration-management",
    "vulnerability-management", "business-continuity-and-resilience",
    "governance-risk-and-compliance", "asset-management", "security-awareness-and-training",
    "physical-and-environmental-security", "third-party-and-supply-chain", "privacy",
    "secure-development",
}


def source_bytes(name: str) -> bytes:
    """A file of tools/library/sources, stored plain or gzip-compressed."""
    plain = SOURCES / name
    return plain.read_bytes() if plain.exists() else gzip.decompress((SOURCES / f"{name}.gz").read_bytes())


@pytest.fixture(scope="module")
def lib():
    return load_library()


# ------------------------------------------------------------------ ids and caching


def test_default_library_is_cached(lib):
    assert load_library() is lib


def test_ids_follow_the_uuid5_formula(lib):
    for c in lib.controls.values():
        assert c.id == str(uuid.uuid5(ASSAY_NS, "control:" + c.key))
        for index, s in enumerate(c.mapping_sources):
            assert s["sourceId"] == str(uuid.uuid5(ASSAY_NS, f"source:{c.key}:{index}"))
    for f in lib.frameworks.values():
        assert f.id == str(uuid.uuid5(ASSAY_NS, "framework:" + f.key))
        for cs in f.control_sets:
            assert cs.id == str(uuid.uuid5(ASSAY_NS, f"controlset:{f.key}:{cs.name}"))
    for d in lib.domains.values():
        assert d.id == "arn:aws:controlcatalog:::domain/" + d.key


def test_ids_are_unique(lib):
    ids = list(lib.controls) + list(lib.frameworks)
    ids += [cs.id for f in lib.frameworks.values() for cs in f.control_sets]
    ids += [s["sourceId"] for c in lib.controls.values() for s in c.mapping_sources]
    assert len(ids) == len(set(ids))
    assert len({c.key for c in lib.controls.values()}) == len(lib.controls)
    assert len({f.key for f in lib.frameworks.values()}) == len(lib.frameworks)


def test_ids_are_stable_across_loads(lib):
    again = load_library(DATA_DIR)
    assert again is not lib
    assert list(again.controls) == list(lib.controls)
    assert list(again.frameworks) == list(lib.frameworks)
    assert [c.mapping_sources for c in again.controls.values()] == [
        c.mapping_sources for c in lib.controls.values()
    ]


def test_library_timestamp():
    assert isinstance(LIBRARY_TIMESTAMP, int)
    assert 1_767_225_600 <= LIBRARY_TIMESTAMP <= 1_893_456_000  # 2026..2030


def test_lookups(lib):
    c = lib.control_by_key("NIST-800-53-r5/AC-2")
    assert c.name == "NIST 800-53 r5 AC-2 Account Management"
    assert lib.controls[c.id] is c
    fw = lib.framework_by_key("nist-800-53-r5-moderate")
    assert lib.frameworks[fw.id] is fw
    assert c in lib.controls_in_domain(c.domain_id)
    with pytest.raises(KeyError):
        lib.control_by_key("NIST-800-53-r5/XX-1")
    assert lib.controls_in_domain("arn:aws:controlcatalog:::domain/nope") == []


def test_controls_are_ordered_by_name(lib):
    names = [c.name for c in lib.controls.values()]
    nist = [n for n in names if re.match(r"^NIST 800-53 r5 AC-\d+ ", n)]
    assert nist.index("NIST 800-53 r5 AC-2 Account Management") < nist.index(
        "NIST 800-53 r5 AC-10 Concurrent Session Control")
    key = library_module._natural_key
    assert names == sorted(names, key=key)


# ------------------------------------------------------------------ domains


def test_domains_are_exactly_the_fifteen(lib):
    assert {d.key for d in lib.domains.values()} == DOMAIN_KEYS
    assert all(d.name and d.description for d in lib.domains.values())


def test_every_control_is_in_a_known_domain(lib):
    for c in lib.controls.values():
        assert c.domain_id in lib.domains, c.key
    assert sum(len(lib.controls_in_domain(d)) for d in lib.domains) == len(lib.controls)


# ------------------------------------------------------------------ counts


def _catalog_active_ids():
    data = json.loads(source_bytes("nist-sp800-53-r5/NIST_SP-800-53_rev5_catalog-min.json"))
    out = []

    def walk(ctls):
        for c in ctls:
            props = {(p["name"], p.get("value")) for p in c.get("props", [])}
            if ("status", "withdrawn") not in props:
                out.append(c["id"])
            walk(c.get("controls", []))

    for g in data["catalog"]["groups"]:
        walk(g.get("controls", []))
    return out


def _profile_ids(path):
    prof = json.loads(source_bytes(path))["profile"]
    return {i for imp in prof["imports"] for inc in imp["include-controls"] for i in inc["with-ids"]}


def _label(oscal_id: str) -> str:
    fam, _, rest = oscal_id.partition("-")
    num, _, enh = rest.partition(".")
    return f"{fam.upper()}-{num}" + (f"({enh})" if enh else "")


def test_nist_catalog_has_every_active_control(lib):
    active = _catalog_active_ids()
    assert len(active) == 1007
    fw = lib.framework_by_key("nist-800-53-r5")
    assert len(fw.control_ids) == len(active)
    keys = {lib.controls[i].key for i in fw.control_ids}
    assert keys == {"NIST-800-53-r5/" + _label(i) for i in active}
    assert len(fw.control_sets) == 20


@pytest.mark.parametrize(
    "key, profile, count",
    [
        ("nist-800-53-r5-low", "nist-sp800-53-r5/NIST_SP-800-53_rev5_LOW-baseline_profile-min.json", 149),
        ("nist-800-53-r5-moderate", "nist-sp800-53-r5/NIST_SP-800-53_rev5_MODERATE-baseline_profile-min.json", 287),
        ("nist-800-53-r5-high", "nist-sp800-53-r5/NIST_SP-800-53_rev5_HIGH-baseline_profile-min.json", 370),
        ("nist-800-53-r5-privacy", "nist-sp800-53-r5/NIST_SP-800-53_rev5_PRIVACY-baseline_profile-min.json", 96),
        ("fedramp-r5-low", "fedramp-rev5/FedRAMP_rev5_LOW-baseline_profile-min.json", 156),
        ("fedramp-r5-moderate", "fedramp-rev5/FedRAMP_rev5_MODERATE-baseline_profile-min.json", 323),
        ("fedramp-r5-high", "fedramp-rev5/FedRAMP_rev5_HIGH-baseline_profile-min.json", 410),
    ],
)
def test_baselines_match_their_profiles(lib, key, profile, count):
    fw = lib.framework_by_key(key)
    assert len(fw.control_ids) == count
    want = {_label(i) for i in _profile_ids(profile)}
    assert len(want) == count
    got = {lib.controls[i].key.split("/", 1)[1] for i in fw.control_ids}
    assert got == want


def test_nist_baselines_reuse_the_catalog_controls(lib):
    catalog = set(lib.framework_by_key("nist-800-53-r5").control_ids)
    for b in ("low", "moderate", "high", "privacy"):
        assert set(lib.framework_by_key(f"nist-800-53-r5-{b}").control_ids) <= catalog


def test_fedramp_controls_are_per_baseline_and_share_nist_text_and_sources(lib):
    nist = lib.control_by_key("NIST-800-53-r5/AC-2")
    seen_testing = set()
    for b in ("LOW", "MODERATE", "HIGH"):
        fed = lib.control_by_key(f"FedRAMP-r5-{b}/AC-2")
        assert fed.id != nist.id
        assert (fed.description, fed.domain_id) == (nist.description, nist.domain_id)
        assert fed.name == nist.name.replace("NIST 800-53 r5", f"FedRAMP {b.title()}")
        strip = lambda c: [{k: v for k, v in s.items() if k != "sourceId"} for s in c.mapping_sources]  # noqa: E731
        assert strip(fed) == strip(nist)
        assert f"FedRAMP {b.title()} parameter values for AC-2" in fed.testing_information
        seen_testing.add(fed.testing_information)
    assert "twenty-four (24) hours" in lib.control_by_key("FedRAMP-r5-MODERATE/AC-2").testing_information
    assert len(seen_testing) >= 2  # values differ per baseline (AC-2 review frequency)


def test_fsbp_has_one_control_per_active_security_hub_control(lib):
    rows = list(csv.DictReader(io.StringIO(source_bytes("aws-security-hub-controls.tsv").decode()),
                               delimiter="\t"))
    retired = {r["control_id"] for r in rows if r["status"] == "retired"}
    assert len(rows) == 609 and len(retired) == 20  # tools/library/sources/PROVENANCE.md
    rows = [r for r in rows if r["status"] == "active"]
    fw = lib.framework_by_key("aws-fsbp")
    keys = [lib.controls[i].key for i in fw.control_ids]
    assert sorted(keys) == sorted("AWS-FSBP/" + r["control_id"] for r in rows)
    for r in rows:
        c = lib.control_by_key("AWS-FSBP/" + r["control_id"])
        assert c.name.startswith("AWS FSBP " + r["control_id"] + " ")
        hub = [s for s in c.mapping_sources if s["sourceType"] == "AWS_Security_Hub"]
        assert [s["sourceKeyword"]["keywordValue"] for s in hub] == [r["control_id"]]
        cfg = [s["sourceKeyword"]["keywordValue"] for s in c.mapping_sources if s["sourceType"] == "AWS_Config"]
        assert cfg == ([r["config_rule_identifier"]] if r["config_rule_identifier"] else [])
    assert {cs.name for cs in fw.control_sets} >= {"IAM", "S3", "EC2", "CloudTrail"}


# ------------------------------------------------------------------ model limits


def _model_limits():
    import botocore.session

    model = botocore.session.get_session().get_service_model("auditmanager")

    def member(shape, name):
        return model.shape_for(shape).members[name].metadata

    return {
        "control name": member("Control", "name"),
        "description": member("Control", "description"),
        "testingInformation": member("Control", "testingInformation"),
        "actionPlanTitle": member("Control", "actionPlanTitle"),
        "actionPlanInstructions": member("Control", "actionPlanInstructions"),
        "controlSources": member("Control", "controlSources"),
        "sourceName": member("ControlMappingSource", "sourceName"),
        "sourceDescription": member("ControlMappingSource", "sourceDescription"),
        "troubleshootingText": member("ControlMappingSource", "troubleshootingText"),
        "keywordValue": member("SourceKeyword", "keywordValue"),
        "framework name": member("Framework", "name"),
        "framework description": member("Framework", "description"),
        "complianceType": member("Framework", "complianceType"),
        "control set name": member("ControlSet", "name"),
    }


def test_loader_limits_are_no_looser_than_the_model():
    m = _model_limits()
    L = library_module
    assert L.CONTROL_NAME_MAX <= m["control name"]["max"]
    assert L.TEXT_MAX <= min(m[k]["max"] for k in ("description", "testingInformation", "actionPlanInstructions", "sourceDescription"))
    assert L.ACTION_PLAN_TITLE_MAX <= m["actionPlanTitle"]["max"]
    assert L.SOURCE_NAME_MAX <= m["sourceName"]["max"]
    assert L.TROUBLESHOOTING_MAX <= m["troubleshootingText"]["max"]
    assert L.KEYWORD_MAX <= m["keywordValue"]["max"]
    assert L.FRAMEWORK_NAME_MAX <= m["framework name"]["max"]
    assert L.FRAMEWORK_DESCRIPTION_MAX <= m["framework description"]["max"]
    assert L.COMPLIANCE_TYPE_MAX <= m["complianceType"]["max"]
    assert L.CONTROL_SET_NAME_MAX <= m["control set name"]["max"]
    assert L.CONTROL_SOURCES_MAX <= m["controlSources"]["max"]


def test_every_value_respects_the_model(lib):
    m = _model_limits()

    def ok(value, limits, what):
        assert isinstance(value, str), what
        assert limits.get("min", 0) <= len(value) <= limits["max"], (what, len(value))
        if "pattern" in limits:
            assert re.fullmatch(limits["pattern"].strip("^$"), value, re.DOTALL), (what, value)

    for c in lib.controls.values():
        ok(c.name, m["control name"], c.key)
        ok(c.description, m["description"], c.key)
        ok(c.testing_information, m["testingInformation"], c.key)
        ok(c.action_plan_title, m["actionPlanTitle"], c.key)
        ok(c.action_plan_instructions, m["actionPlanInstructions"], c.key)
        ok(c.control_sources, m["controlSources"], c.key)
        assert c.mapping_sources, c.key
        for s in c.mapping_sources:
            ok(s["sourceName"], m["sourceName"], c.key)
            assert len(s["sourceName"]) <= 100, c.key
            ok(s.get("sourceDescription", ""), m["sourceDescription"], c.key)
            ok(s.get("troubleshootingText", ""), m["troubleshootingText"], c.key)
            if "sourceKeyword" in s:
                ok(s["sourceKeyword"]["keywordValue"], m["keywordValue"], c.key)
    for f in lib.frameworks.values():
        ok(f.name, m["framework name"], f.key)
        ok(f.description, m["framework description"], f.key)
        ok(f.compliance_type, m["complianceType"], f.key)
        ok(f.control_sources, m["controlSources"], f.key)
        for cs in f.control_sets:
            ok(cs.name, m["control set name"], f.key)
            assert "_" not in cs.name and "\\" not in cs.name


def test_every_keyword_is_valid_and_sources_are_well_formed(lib):
    for c in lib.controls.values():
        for s in c.mapping_sources:
            t = s["sourceType"]
            if t == "MANUAL":
                assert s["sourceSetUpOption"] == "Procedural_Controls_Mapping"
                assert s.get("sourceDescription"), c.key
                continue
            assert s["sourceSetUpOption"] == "System_Controls_Mapping"
            assert keywords.is_valid_keyword(t, s["sourceKeyword"]["keywordValue"]), (c.key, s)
            assert ("sourceFrequency" in s) == (t == "AWS_API_Call"), (c.key, s)


def test_automated_sources_are_capped(lib):
    for c in lib.controls.values():
        if c.key.startswith(("NIST-800-53-r5/", "FedRAMP-")):
            assert sum(s["sourceType"] != "MANUAL" for s in c.mapping_sources) <= 10, c.key


def test_control_sources_summary(lib):
    c = lib.control_by_key("AWS-FSBP/IAM.1")
    assert c.control_sources == "AWS Security Hub, AWS Config"
    assert lib.control_by_key("NIST-800-53-r5/PE-3").control_sources == "Manual"
    fw = lib.framework_by_key("nist-800-53-r5")
    assert fw.control_sources == "AWS Security Hub, AWS Config, AWS CloudTrail, AWS API calls, Manual"


def test_long_nist_statements_are_shortened_cleanly(lib):
    shortened = [c for c in lib.controls.values() if "[Shortened:" in c.description]
    assert shortened, "some NIST statements exceed 1000 characters"
    for c in shortened:
        assert len(c.description) <= 1000
        assert "\u2026" in c.description
        body = c.description.split("\u2026")[0]
        assert body.count("[") == body.count("]"), c.key  # no half-rendered parameter
    ac2 = lib.control_by_key("NIST-800-53-r5/AC-2").description
    assert ac2.startswith("a. Define and document the types of accounts")
    assert "[Assignment: organization-defined prerequisites and criteria]" in ac2
    assert "{{" not in "".join(c.description for c in lib.controls.values())


def test_manual_only_controls_say_what_to_upload(lib):
    for key in ("NIST-800-53-r5/PE-3", "NIST-800-53-r5/AT-2", "NIST-800-53-r5/AC-1"):
        c = lib.control_by_key(key)
        assert [s["sourceType"] for s in c.mapping_sources] == ["MANUAL"]
        assert c.mapping_sources[0]["sourceDescription"].startswith("Upload")


def test_evidence_map_examples(lib):
    def kws(key, t):
        c = lib.control_by_key(key)
        return {s["sourceKeyword"]["keywordValue"] for s in c.mapping_sources if s["sourceType"] == t}

    assert {"iam_ListUsers", "iam_GetCredentialReport"} <= kws("NIST-800-53-r5/AC-2", "AWS_API_Call")
    assert {"iam_CreateUser", "iam_DeleteUser"} <= kws("NIST-800-53-r5/AC-2", "AWS_Cloudtrail")
    assert "signin_ConsoleLogin" in kws("NIST-800-53-r5/AC-7", "AWS_Cloudtrail")
    assert "cloudtrail_DescribeTrails" in kws("NIST-800-53-r5/AU-2", "AWS_API_Call")
    assert "ec2_DescribeSecurityGroups" in kws("NIST-800-53-r5/SC-7", "AWS_API_Call")
    assert "IAM_PASSWORD_POLICY" in kws("NIST-800-53-r5/IA-5(1)", "AWS_Config")


# ------------------------------------------------------------------ stats


def test_stats(lib):
    stats = {row["key"]: row for row in lib.stats()}
    assert set(stats) == {f.key for f in lib.frameworks.values()}
    for f in lib.frameworks.values():
        row = stats[f.key]
        ids = f.control_ids
        strengths = [lib.controls[i].source_strengths for i in ids]
        tested = sum(1 for st in strengths if "tests" in st)
        evidenced = sum(1 for st in strengths if any(x is not None for x in st))
        assert row["name"] == f.name
        assert row["controls"] == len(ids)
        assert row["control_sets"] == len(f.control_sets)
        assert row["automated"] == tested
        assert row["with_evidence"] == evidenced >= tested
        assert row["automated_share"] == pytest.approx(tested / len(ids), abs=1e-4)
        assert row["with_evidence_share"] == pytest.approx(evidenced / len(ids), abs=1e-4)
    assert stats["aws-fsbp"]["automated_share"] == 1.0
    assert stats["nist-800-53-r5"]["controls"] == 1007
    assert stats["nist-800-53-r5-moderate"]["automated"] > 50
    assert stats["nist-800-53-r5-privacy"]["automated_share"] < stats["nist-800-53-r5-moderate"]["automated_share"]


# ------------------------------------------------------------------ strength


def test_every_automated_source_has_a_strength_shown_in_its_description(lib):
    """tests / supports on every automated source, a reason for every supports, and the API
    shape (GetControl) states both at the start of sourceDescription."""
    for c in lib.controls.values():
        assert len(c.source_strengths) == len(c.mapping_sources), c.key
        for s, strength in zip(c.mapping_sources, c.source_strengths):
            assert "strength" not in s and "strengthReason" not in s  # not Audit Manager fields
            if s["sourceType"] == "MANUAL":
                assert strength is None
                continue
            assert strength in ("tests", "supports"), (c.key, s["sourceName"])
            lead = s["sourceDescription"].split(" ", 3)[:3]
            if strength == "tests":
                assert s["sourceDescription"].startswith("Tests the requirement"), c.key
            else:
                assert s["sourceDescription"].startswith("Supports the requirement without settling it ("), lead
            # An API snapshot or CloudTrail event carries no verdict: it never tests.
            if s["sourceType"] in ("AWS_API_Call", "AWS_Cloudtrail"):
                assert strength == "supports", (c.key, s["sourceName"])


def test_automated_means_a_tests_source():
    lib = load_library()
    cis = lib.control_by_key("CIS-AWS-v3.0/4.1")  # CloudWatch.2 runs only under CIS v1.2/v1.4
    assert cis.supported and not cis.automated
    assert lib.control_by_key("CIS-AWS-v3.0/1.4").automated


def test_loader_rejects_missing_or_bad_strength(tmp_path):
    bad = _control("T/A-1")
    del bad["controlMappingSources"][0]["strength"]
    _write(tmp_path, "a.json", [bad])
    _expect_error(tmp_path, "strength must be one of tests, supports")
    bad = _control("T/A-1")
    del bad["controlMappingSources"][1]["strengthReason"]
    _write(tmp_path, "a.json", [bad])
    _expect_error(tmp_path, "strengthReason is required")
    bad = _control("T/A-1")
    bad["controlMappingSources"][2]["strength"] = "tests"
    _write(tmp_path, "a.json", [bad])
    _expect_error(tmp_path, "a MANUAL source has no strength")


def test_every_data_file_has_provenance(lib):
    assert {"aws-fsbp.json", "nist-800-53-r5.json.gz", "fedramp-r5.json.gz"} <= set(lib.provenance)
    assert all(p.strip() for p in lib.provenance.values())


# ------------------------------------------------------------------ rejection


def _control(key, **extra):
    c = {
        "key": key,
        "name": key.split("/")[-1] + " Test control",
        "description": "d",
        "testingInformation": "t",
        "actionPlanTitle": "a",
        "actionPlanInstructions": "i",
        "domain": "data-protection",
        "controlMappingSources": [
            {
                "sourceName": "Security Hub S3.1",
                "sourceSetUpOption": "System_Controls_Mapping",
                "sourceType": "AWS_Security_Hub",
                "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": "S3.1"},
                "strength": "tests",
            },
            {
                "sourceName": "API call s3 ListBuckets",
                "sourceSetUpOption": "System_Controls_Mapping",
                "sourceType": "AWS_API_Call",
                "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": "s3_ListBuckets"},
                "sourceFrequency": "DAILY",
                "strength": "supports",
                "strengthReason": "a snapshot has no verdict",
            },
            {
                "sourceName": "Policy",
                "sourceSetUpOption": "Procedural_Controls_Mapping",
                "sourceType": "MANUAL",
                "sourceDescription": "Upload the policy.",
            },
        ],
    }
    c.update(extra)
    return c


def _framework(key, controls, **extra):
    f = {
        "key": key,
        "name": f"Test framework {key}",
        "description": "A test framework.",
        "complianceType": "Test",
        "controlSets": [{"name": "Set one", "controls": controls}],
    }
    f.update(extra)
    return f


def _write(folder: Path, name: str, controls=(), frameworks=(), provenance="test data"):
    payload = {"provenance": provenance, "controls": list(controls), "frameworks": list(frameworks)}
    raw = json.dumps(payload).encode()
    if name.endswith(".gz"):
        raw = gzip.compress(raw)
    (folder / name).write_bytes(raw)


def test_small_library_loads_from_plain_and_gzip_files(tmp_path):
    _write(tmp_path, "a.json", [_control("T/A-1")])
    _write(tmp_path, "b.json.gz", [_control("T/B-1")], [_framework("t", ["T/A-1", "T/B-1"])])
    lib = load_library(tmp_path)
    assert {c.key for c in lib.controls.values()} == {"T/A-1", "T/B-1"}
    fw = lib.framework_by_key("t")
    assert fw.control_sets[0].control_ids == (
        lib.control_by_key("T/A-1").id,
        lib.control_by_key("T/B-1").id,
    )
    assert fw.control_sources == "AWS Security Hub, AWS API calls, Manual"
    assert lib.control_by_key("T/A-1").control_sources == "AWS Security Hub, AWS API calls, Manual"
    assert lib.stats() == [
        {"key": "t", "name": "Test framework t", "controls": 2, "control_sets": 1, "automated": 2,
         "automated_share": 1.0, "with_evidence": 2, "with_evidence_share": 1.0}
    ]
    assert len(lib.domains) == 15  # packaged domains.json used when the folder has none


def _expect_error(folder: Path, *fragments: str):
    with pytest.raises(LibraryError) as info:
        load_library(folder)
    for fragment in fragments:
        assert fragment in str(info.value)
    return str(info.value)


def test_rejects_dangling_reference(tmp_path):
    _write(tmp_path, "a.json", [_control("T/A-1")], [_framework("t", ["T/A-1", "T/MISSING"])])
    _expect_error(tmp_path, "a.json", "'t'", "T/MISSING")


def test_rejects_duplicate_control_key_across_files(tmp_path):
    _write(tmp_path, "a.json", [_control("T/A-1")])
    _write(tmp_path, "b.json", [_control("T/A-1")])
    _expect_error(tmp_path, "b.json", "T/A-1", "duplicate", "a.json")


def test_rejects_duplicate_framework_key(tmp_path):
    _write(tmp_path, "a.json", [_control("T/A-1")], [_framework("t", ["T/A-1"]), _framework("t", ["T/A-1"])])
    _expect_error(tmp_path, "a.json", "'t'", "duplicate")


def test_rejects_bad_keyword_with_suggestion(tmp_path):
    c = _control("T/A-1")
    c["controlMappingSources"][1]["sourceKeyword"]["keywordValue"] = "s3_ListBucket"
    _write(tmp_path, "a.json", [c])
    message = _expect_error(tmp_path, "a.json", "T/A-1", "s3_ListBucket")
    assert "s3_ListBuckets" in message


def test_rejects_keyword_breaking_the_pattern(tmp_path):
    c = _control("T/A-1")
    c["controlMappingSources"][0]["sourceKeyword"]["keywordValue"] = "S3.1;"
    _write(tmp_path, "a.json", [c])
    _expect_error(tmp_path, "T/A-1", "pattern")


def test_rejects_unknown_domain(tmp_path):
    _write(tmp_path, "a.json", [_control("T/A-1", domain="cooking")])
    _expect_error(tmp_path, "a.json", "T/A-1", "cooking")


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("description", "x" * 1001, "description"),
        ("testingInformation", "x" * 1001, "testingInformation"),
        ("actionPlanTitle", "x" * 301, "actionPlanTitle"),
        ("actionPlanInstructions", "x" * 1001, "actionPlanInstructions"),
        ("name", "x" * 301, "name"),
        ("name", "back\\slash", "backslash"),
        ("name", "", "name"),
        ("controlMappingSources", [], "controlMappingSources"),
        ("surprise", "field", "unknown field"),
    ],
)
def test_rejects_control_limit_violations(tmp_path, field, value, fragment):
    _write(tmp_path, "a.json", [_control("T/A-1", **{field: value})])
    _expect_error(tmp_path, "a.json", "T/A-1", fragment)


@pytest.mark.parametrize(
    "index, change, fragment",
    [
        (0, {"sourceName": "x" * 101}, "sourceName"),
        (0, {"sourceDescription": "x" * 1001}, "sourceDescription"),
        (0, {"sourceSetUpOption": "Procedural_Controls_Mapping"}, "sourceSetUpOption"),
        (0, {"sourceFrequency": "DAILY"}, "sourceFrequency"),
        (1, {"sourceFrequency": "HOURLY"}, "sourceFrequency"),
        (0, {"sourceType": "AWS_Nothing"}, "sourceType"),
        (0, {"sourceKeyword": None}, "sourceKeyword"),
        (2, {"sourceSetUpOption": "System_Controls_Mapping"}, "sourceSetUpOption"),
    ],
)
def test_rejects_source_violations(tmp_path, index, change, fragment):
    c = _control("T/A-1")
    c["controlMappingSources"][index].update(change)
    if change.get("sourceKeyword", 0) is None:
        del c["controlMappingSources"][index]["sourceKeyword"]
    _write(tmp_path, "a.json", [c])
    _expect_error(tmp_path, "T/A-1", f"source {index}", fragment)


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"description": ""}, "description"),
        ({"description": "x" * 1001}, "description"),
        ({"complianceType": "x" * 101}, "complianceType"),
        ({"name": "a\\b"}, "backslash"),
        ({"controlSets": [{"name": "has_underscore", "controls": ["T/A-1"]}]}, "has_underscore"),
        ({"controlSets": [{"name": "Same", "controls": ["T/A-1"]}, {"name": "Same", "controls": ["T/A-1"]}]}, "duplicate"),
        ({"controlSets": [{"name": "Twice", "controls": ["T/A-1", "T/A-1"]}]}, "twice"),
        ({"controlSets": []}, "controlSets"),
    ],
)
def test_rejects_framework_violations(tmp_path, change, fragment):
    _write(tmp_path, "a.json", [_control("T/A-1")], [_framework("t", ["T/A-1"], **change)])
    _expect_error(tmp_path, "a.json", "'t'", fragment)


def test_rejects_missing_provenance_and_bad_json(tmp_path):
    _write(tmp_path, "a.json", [_control("T/A-1")], provenance="")
    _expect_error(tmp_path, "a.json", "provenance")
    (tmp_path / "a.json").write_text("{not json")
    _expect_error(tmp_path, "a.json", "JSON")


def test_rejects_plain_and_gzip_copies_of_one_file(tmp_path):
    _write(tmp_path, "a.json", [_control("T/A-1")])
    _write(tmp_path, "a.json.gz", [_control("T/B-1")])
    _expect_error(tmp_path, "a.json")


def test_shipped_library_still_loads_after_copy(tmp_path):
    # The real data files load from any folder (no hidden dependency on their location).
    for p in DATA_DIR.iterdir():
        shutil.copy(p, tmp_path / p.name)
    copy = load_library(tmp_path)
    assert len(copy.controls) == len(load_library().controls)


# ------------------------------------------------------------------ builders


def test_committed_data_matches_the_builders():
    """The committed files are what the builders produce now (deterministic, not stale)."""
    sys.path.insert(0, str(TOOLS))
    import build_fedramp
    import build_fsbp
    import build_nist
    import common
    import orjson

    for module, name in ((build_fsbp, "aws-fsbp"), (build_nist, "nist-800-53-r5"), (build_fedramp, "fedramp-r5")):
        plain, packed = DATA_DIR / f"{name}.json", DATA_DIR / f"{name}.json.gz"
        raw = gzip.decompress(packed.read_bytes()) if packed.exists() else plain.read_bytes()
        assert orjson.loads(raw) == orjson.loads(orjson.dumps(module.build())), name
    assert common.clip("one two three four", 12) == "one two\u2026"


def test_reports_name_each_kind_of_source_with_its_strength(lib):
    """What reports list per control (service/reports.py): kinds of source with the strengths
    the standard control states, read back from the API-shaped sources an assessment copies."""
    from assay.model.controls import source_names_with_strength

    sources = [dict(s) for s in lib.control_by_key("CIS-AWS-v3.0/2.1.2").mapping_sources]
    assert source_names_with_strength(sources) == [
        "AWS Security Hub (tests)", "AWS Config (tests)", "AWS API calls (supports)",
        "AWS CloudTrail (supports)", "Manual"]
    assert source_names_with_strength(lib.control_by_key("CIS-AWS-v3.0/4.1").mapping_sources)[0] == \
        "AWS Security Hub (supports)"
    custom = [{"sourceType": "AWS_Config", "sourceDescription": "mine"}]
    assert source_names_with_strength(custom) == ["AWS Config"]


def test_crosswalk_lists_controls_of_other_frameworks_tested_by_the_same_check(lib):
    cis = lib.control_by_key("CIS-AWS-v3.0/1.5")  # root MFA: IAM.9 tests it
    found = {e.control.name: e.shared for e in lib.equivalents(cis.id)}
    # IAM.9 and the Config rule behind it.
    assert found["AWS FSBP IAM.9 The root user is protected by MFA"] == (
        ("AWS_Config", "ROOT_ACCOUNT_MFA_ENABLED"), ("AWS_Security_Hub", "IAM.9"))
    assert "ACSC Essential Eight E8.7 Multi-factor authentication" in found
    assert not any(n.startswith("CIS AWS v3.0.0 ") for n in found)  # other frameworks only
    fsbp = lib.control_by_key("AWS-FSBP/IAM.9")
    assert cis in [e.control for e in lib.equivalents(fsbp.id)]
    # Every shared source is a `tests` source of both controls.
    for e in lib.equivalents(cis.id):
        for control in (cis, e.control):
            tests = {(s["sourceType"], s["sourceKeyword"]["keywordValue"])
                     for s, strength in zip(control.mapping_sources, control.source_strengths)
                     if strength == "tests"}
            assert set(e.shared) <= tests
    # CIS 2.1.2 (MFA Delete) meets S3.20's control, not the versioning checks it once used.
    mfa_delete = lib.equivalents(lib.control_by_key("CIS-AWS-v3.0/2.1.2").id)
    assert "AWS-FSBP/S3.20" in [e.control.key for e in mfa_delete]
    assert "AWS-FSBP/S3.14" not in [e.control.key for e in mfa_delete]
    # Only `tests` sources make an equivalence: CIS 4.1's CloudWatch.2 only supports it.
    assert lib.equivalents(lib.control_by_key("CIS-AWS-v3.0/4.1").id) == []
    assert [f.key for f in lib.frameworks_of(cis.id)] == ["cis-aws-foundations-v3.0"]
    assert lib.equivalents("no-such-id") == []


def test_checked_library_cache(tmp_path, monkeypatch):
    """The packaged library is checked once and cached: a hit gives the same library without
    checking again; an unwritable folder is skipped; a damaged file is checked again and
    replaced; any change to a data file changes the cache key."""
    import shutil

    import assay.library as lib

    blocked, folder = tmp_path / "read-only", tmp_path / "cache"
    blocked.write_text("a file, so no folder can be made here")
    monkeypatch.setattr(lib, "_cache_dirs", lambda: [blocked, folder])
    checked = lib._load_default.__wrapped__()
    (cached_file,) = folder.glob("library-*.pickle")

    def no_check(data_dir):
        raise AssertionError("checked again although the cache matches")

    with monkeypatch.context() as m:
        m.setattr(lib, "_load", no_check)
        hit = lib._load_default.__wrapped__()
    assert hit is not checked
    assert (hit.controls, hit.frameworks, hit.domains, hit.provenance) == (
        checked.controls, checked.frameworks, checked.domains, checked.provenance)

    cached_file.write_bytes(b"damaged")
    again = lib._load_default.__wrapped__()
    assert again.controls == checked.controls
    assert cached_file.read_bytes() != b"damaged"

    copy = tmp_path / "data"
    shutil.copytree(DATA_DIR, copy)
    assert lib._cache_key(copy) == lib._cache_key(DATA_DIR)
    domains = copy / "domains.json"
    domains.write_bytes(domains.read_bytes().replace(b"Identity", b"Identitx", 1))
    assert lib._cache_key(copy) != lib._cache_key(DATA_DIR)

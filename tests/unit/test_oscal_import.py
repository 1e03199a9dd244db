"""OSCAL import planning: catalogs and profiles to the framework Audit Manager is asked to
create, and the all-or-nothing apply against a fake client."""

from __future__ import annotations

import atexit
import gzip
import json
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest

from assay.library import load_library
from assay.oscal import OscalError, framework_documents, plan_import
from assay.oscal.client import apply_import
from assay.oscal.common import ELLIPSIS, dumps
from assay.oscal.reader import MANUAL_SOURCE_NAME, nist_display_id

SOURCES = Path(__file__).resolve().parents[2] / "tools" / "library" / "sources"


def _plain_copies() -> Path:
    """NIST's and FedRAMP's OSCAL files as a user has them (plain JSON, the catalog beside the
    profile), written from the repository's copies in tools/library/sources."""
    folder = Path(tempfile.mkdtemp(prefix="oscal-import-"))
    atexit.register(shutil.rmtree, folder, True)
    for rel in ("nist-sp800-53-r5/NIST_SP-800-53_rev5_catalog-min.json",
                "nist-sp800-53-r5/NIST_SP-800-53_rev5_LOW-baseline_profile-min.json",
                "fedramp-rev5/FedRAMP_rev5_LOW-baseline_profile-min.json"):
        plain, packed = SOURCES / rel, SOURCES / f"{rel}.gz"
        raw = plain.read_bytes() if plain.exists() else gzip.decompress(packed.read_bytes())
        (folder / Path(rel).name).write_bytes(raw)
    return folder


NIST = _plain_copies()
NIST_CATALOG = NIST / "NIST_SP-800-53_rev5_catalog-min.json"
NIST_LOW = NIST / "NIST_SP-800-53_rev5_LOW-baseline_profile-min.json"
FEDRAMP_LOW = NIST / "FedRAMP_rev5_LOW-baseline_profile-min.json"
UUID = "7c1e6a52-0b5d-4f0e-9a3c-1d2e3f4a5b6c"
META = {"title": "Widget Security Catalog", "last-modified": "2026-01-01T00:00:00Z",
        "version": "2.0", "oscal-version": "1.1.2"}


def write(path: Path, document: dict) -> Path:
    path.write_bytes(orjson.dumps(document))
    return path


def label(value):
    return [{"name": "label", "value": value}]


def widget_catalog() -> dict:
    long_prose = " ".join(["Widgets are inspected by the widget inspector"] * 40) + "."
    return {"catalog": {
        "uuid": UUID, "metadata": META,
        "params": [{"id": "freq", "label": "organization-defined frequency"}],
        "groups": [
            {"id": "wd", "title": "Widget_Defence", "controls": [
                {"id": "wd-1", "title": "Widget Policy", "props": label("WD-1"),
                 "params": [{"id": "wd-1_prm_1", "label": "organization-defined personnel"},
                            {"id": "wd-1_prm_2", "select": {"how-many": "one-or-more",
                                                             "choice": ["weekly", "{{ insert: param, freq }}"]}}],
                 "parts": [
                     {"id": "wd-1_smt", "name": "statement", "parts": [
                         {"id": "wd-1_smt.a", "name": "item", "props": label("a."),
                          "prose": "Assign {{ insert: param, wd-1_prm_1 }} to widgets;"},
                         {"id": "wd-1_smt.b", "name": "item", "props": label("b."),
                          "prose": "Review widgets {{ insert: param, wd-1_prm_2 }}:", "parts": [
                              {"id": "wd-1_smt.b.1", "name": "item", "props": label("1."),
                               "prose": "by the owner."}]}]},
                     {"id": "wd-1_obj", "name": "assessment-objective",
                      "prose": "Determine that widgets have owners."},
                     {"id": "wd-1_gdn", "name": "guidance", "prose": "Widgets matter."}],
                 "controls": [
                     {"id": "wd-1.1", "title": "Automated Widget Review", "props": label("WD-1(1)"),
                      "parts": [{"id": "wd-1.1_smt", "name": "statement",
                                 "prose": "Review widgets automatically."},
                                {"id": "wd-1.1_gdn", "name": "guidance",
                                 "prose": "Use a widget scanner."}]},
                     {"id": "wd-1.2", "title": "Withdrawn Review",
                      "props": label("WD-1(2)") + [{"name": "status", "value": "withdrawn"}]}]},
                {"id": "wd-2", "title": "Widget \\ Inventory", "props": label("WD-2"),
                 "parts": [{"id": "wd-2_smt", "name": "statement", "prose": long_prose}]},
            ]},
            {"id": "ops", "title": "Operations", "groups": [
                {"id": "ops-x", "title": "Extra", "controls": [
                    {"id": "ops-1", "title": "Operate", "parts": [
                        {"id": "ops-1_smt", "name": "statement", "prose": "Operate at {{ insert: param, freq }}."}]}]}]},
        ]}}


def test_catalog_becomes_sets_of_controls_with_manual_sources(tmp_path):
    plan = plan_import(write(tmp_path / "widgets.json", widget_catalog()))
    assert plan.kind == "catalog" and plan.framework_name == "Widget Security Catalog"
    assert "Imported from the OSCAL catalog 'Widget Security Catalog', version 2.0" in plan.description
    assert plan.compliance_type is None
    # Underscores are not allowed in control set names; nested groups are flattened.
    assert [s.name for s in plan.control_sets] == ["Widget-Defence", "Operations - Extra"]
    names = [c.name for c in plan.controls]
    # Enhancements are in scope; withdrawn controls are not; no backslash in names.
    assert names == ["WD-1 Widget Policy", "WD-1(1) Automated Widget Review",
                     "WD-2 Widget / Inventory", "ops-1 Operate"]
    policy = plan.controls[0]
    assert policy.description == (
        "a. Assign [Assignment: organization-defined personnel] to widgets;\n"
        "b. Review widgets [Selection (one or more): weekly; "
        "[Assignment: organization-defined frequency]]:\n"
        "  1. by the owner.")
    assert policy.testing_information == "Determine that widgets have owners."
    assert policy.action_plan_title is None and policy.action_plan_instructions is None
    assert plan.controls[1].testing_information == "Use a widget scanner."  # no objective: guidance
    for control in plan.controls:
        params = control.create_control_params()
        (source,) = params["controlMappingSources"]
        assert source["sourceType"] == "MANUAL" and source["sourceName"] == MANUAL_SOURCE_NAME
        assert source["sourceSetUpOption"] == "Procedural_Controls_Mapping"
        assert 0 < len(source["sourceDescription"]) <= 1000
        assert control.standard_key is None


def test_long_text_is_cut_at_a_word_boundary(tmp_path):
    plan = plan_import(write(tmp_path / "widgets.json", widget_catalog()))
    inventory = next(c for c in plan.controls if c.oscal_id == "wd-2")
    assert len(inventory.description) <= 1000 and inventory.description.endswith(ELLIPSIS)
    kept = inventory.description[:-1]
    original = widget_catalog()["catalog"]["groups"][0]["controls"][1]["parts"][0]["prose"]
    assert original.startswith(kept) and original[len(kept)] == " "  # a whole word


def test_long_titles_make_names_of_at_most_300_characters(tmp_path):
    document = widget_catalog()
    document["catalog"]["groups"][1]["groups"][0]["controls"][0]["title"] = "Very long title " * 30
    document["catalog"]["groups"][1]["title"] = "G" * 400
    plan = plan_import(write(tmp_path / "widgets.json", document))
    assert all(len(c.name) <= 300 for c in plan.controls)
    assert all(len(s.name) <= 300 for s in plan.control_sets)


def test_ungrouped_catalog_is_one_control_set(tmp_path):
    document = {"catalog": {"uuid": UUID, "metadata": META, "controls": [
        {"id": "x-1", "title": "First", "parts": [{"name": "statement", "prose": "One."}]},
        {"id": "x-2", "title": "Second"}]}}
    plan = plan_import(write(tmp_path / "flat.json", document), name="Flat_one")
    assert plan.framework_name == "Flat_one"  # framework names may have underscores
    assert [s.name for s in plan.control_sets] == ["Widget Security Catalog"]
    assert [c.name for c in plan.control_sets[0].controls] == ["x-1 First", "x-2 Second"]
    assert plan.controls[1].description is None


def test_profile_selects_and_sets_parameters(tmp_path):
    write(tmp_path / "widgets.json", widget_catalog())
    profile = {"profile": {"uuid": UUID, "metadata": {**META, "title": "Widget baseline"},
                           "imports": [{"href": "widgets.json", "include-controls": [
                               {"with-ids": ["wd-1"], "with-child-controls": "yes"},
                               {"matching": [{"pattern": "ops-*"}]}],
                               "exclude-controls": [{"with-ids": ["ops-1"]}]}],
                           "modify": {"set-parameters": [
                               {"param-id": "wd-1_prm_1", "values": ["the widget owner"]},
                               {"param-id": "wd-1_prm_2", "values": ["monthly"]}]}}}
    plan = plan_import(write(tmp_path / "baseline.json", profile))
    assert plan.kind == "profile" and plan.framework_name == "Widget baseline"
    assert [c.oscal_id for c in plan.controls] == ["wd-1", "wd-1.1"]  # withdrawn wd-1.2 left out
    assert plan.controls[0].description.startswith(
        "a. Assign the widget owner to widgets;\nb. Review widgets monthly:")


def test_profile_through_back_matter_and_catalog_option(tmp_path):
    write(tmp_path / "widgets.json", widget_catalog())
    profile = {"profile": {"uuid": UUID, "metadata": {**META, "title": "By resource"},
                           "imports": [{"href": f"#{UUID}", "include-all": {}}],
                           "back-matter": {"resources": [{"uuid": UUID, "rlinks": [
                               {"href": "https://example.com/widgets.xml"},
                               {"href": "widgets.json", "media-type": "application/oscal.catalog+json"}]}]}}}
    plan = plan_import(write(tmp_path / "p.json", profile))
    assert len(plan.controls) == 4
    # An href that resolves nowhere needs --catalog.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    lonely = write(elsewhere / "p.json", {"profile": {**profile["profile"], "imports": [
        {"href": "../../nowhere/widgets-catalog.json", "include-all": {}}]}})
    with pytest.raises(OscalError, match="--catalog"):
        plan_import(lonely)
    assert len(plan_import(lonely, catalog_path=tmp_path / "widgets.json").controls) == 4


def test_profile_of_a_profile(tmp_path):
    write(tmp_path / "widgets.json", widget_catalog())
    write(tmp_path / "inner.json", {"profile": {"uuid": UUID, "metadata": META, "imports": [
        {"href": "widgets.json", "include-controls": [{"with-ids": ["wd-1", "wd-2", "ops-1"]}]}],
        "modify": {"set-parameters": [{"param-id": "freq", "values": ["daily"]}]}}})
    outer = write(tmp_path / "outer.json", {"profile": {"uuid": UUID, "metadata": {
        **META, "title": "Outer"}, "imports": [{"href": "inner.json", "exclude-controls": [
            {"with-ids": ["wd-2"]}]}]}})
    plan = plan_import(outer)
    assert [c.oscal_id for c in plan.controls] == ["wd-1", "ops-1"]
    assert plan.controls[1].description == "Operate at daily."


@pytest.mark.parametrize("content, message", [
    (b"not json at all", "not an OSCAL document"),
    (b"<catalog xmlns='http://csrc.nist.gov/ns/oscal/1.0'/>", "XML is not supported"),
    (b"[1, 2]", "not an OSCAL document"),
    (b'{"name": "x"}', "expected a top-level 'catalog' or 'profile'"),
    (b'{"component-definition": {"uuid": "x"}}', "takes a catalog or a profile"),
    (b'{"catalog": {"uuid": "x", "metadata": {"title": "Empty"}}}', "has no controls"),
    (b'{"catalog": {"uuid": "x", "metadata": {}}}', "metadata.title is required"),
    (b'{"catalog": {"metadata": {"title": "t"}, "controls": [{"title": "no id"}]}}',
     "a control needs an id"),
])
def test_bad_documents_are_refused_clearly(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(OscalError, match=message):
        plan_import(path)


def test_unknown_control_in_profile_is_named(tmp_path):
    write(tmp_path / "widgets.json", widget_catalog())
    profile = write(tmp_path / "p.json", {"profile": {"uuid": UUID, "metadata": META, "imports": [
        {"href": "widgets.json", "include-controls": [{"with-ids": ["wd-1", "zz-9", "zz-10"]}]}]}})
    with pytest.raises(OscalError, match=r"2 control id\(s\).*does not have: zz-9, zz-10"):
        plan_import(profile)


def test_missing_file(tmp_path):
    with pytest.raises(OscalError, match="no such file"):
        plan_import(tmp_path / "absent.json")


# ------------------------------------------------------------------------------ NIST


def test_nist_low_profile_maps_to_standard_controls():
    plan = plan_import(NIST_LOW)  # the href resolves to the catalog beside the profile
    assert len(plan.controls) == 149
    assert plan.compliance_type == "NIST SP 800-53"
    library = load_library()
    keys = [c.standard_key for c in plan.controls]
    assert keys[:3] == ["NIST-800-53-r5/AC-1", "NIST-800-53-r5/AC-2", "NIST-800-53-r5/AC-3"]
    assert "NIST-800-53-r5/AT-2(2)" in keys
    for key in keys:
        library.control_by_key(key)  # every one is a standard control
    assert len(plan.control_sets) == 18 and plan.control_sets[0].name == "Access Control"
    assert all("_" not in s.name for s in plan.control_sets)


def test_fedramp_profile_with_set_parameters():
    plan = plan_import(FEDRAMP_LOW, catalog_path=NIST_CATALOG)
    assert len(plan.controls) == 156
    assert all(c.standard_key for c in plan.controls)
    assert any("set-parameter" in w for w in plan.warnings)


def test_nist_display_ids():
    assert nist_display_id("ac-2") == "AC-2"
    assert nist_display_id("ac-2.1") == "AC-2(1)"
    assert nist_display_id("si-4.10") == "SI-4(10)"


# ------------------------------------------------------------------------- round trip


def test_exported_catalog_plans_back_to_the_same_controls(tmp_path):
    t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    controls = [
        {"id": "a0000000-0000-4000-8000-000000000001", "type": "Custom",
         "name": "Console sign-in activity", "description": "Line one.\n\nLine two.",
         "testingInformation": "Look at logins.", "actionPlanTitle": "Fix it",
         "actionPlanInstructions": "Turn on MFA.", "controlMappingSources": [
             {"sourceType": "MANUAL", "sourceName": "m"}], "lastUpdatedAt": t},
        {"id": "a0000000-0000-4000-8000-000000000002", "type": "Custom",
         "name": "CC6.1 Logical access", "actionPlanInstructions": "Only a plan.",
         "controlMappingSources": [{"sourceType": "MANUAL", "sourceName": "m"}]},
        {"id": load_library().control_by_key("NIST-800-53-r5/AC-2").id, "type": "Standard",
         "name": "AC-2 Account Management", "description": "Accounts.",
         "controlMappingSources": [{"sourceType": "MANUAL", "sourceName": "m"}]},
    ]
    framework = {"id": "b0000000-0000-4000-8000-000000000001", "name": "Mine_1",
                 "description": "Mine.", "complianceType": "SOC 2", "lastUpdatedAt": t,
                 "controlSets": [{"id": "s1", "name": "Only set", "controls": controls}]}
    documents = framework_documents(framework)
    for filename, document in documents.items():
        (tmp_path / filename).write_bytes(dumps(document))
    for path in (tmp_path / "catalog.json", tmp_path / "profile.json"):
        plan = plan_import(path)
        assert plan.framework_name == "Mine_1" and plan.description == "Mine."
        assert plan.compliance_type == "SOC 2"
        assert [s.name for s in plan.control_sets] == ["Only set"]
        got = {c.name: c for c in plan.controls}
        assert list(got) == [c["name"] for c in controls]
        for original in controls:
            planned = got[original["name"]]
            assert planned.description == original.get("description")
            assert planned.testing_information == original.get("testingInformation")
            assert planned.action_plan_title == original.get("actionPlanTitle")
            assert planned.action_plan_instructions == original.get("actionPlanInstructions")
        assert got["AC-2 Account Management"].standard_id == controls[2]["id"]
        assert got["Console sign-in activity"].standard_id is None


# ------------------------------------------------------------------------------ apply


class FakeClient:
    """Just enough of the auditmanager client for apply_import, failing where told."""

    def __init__(self, fail_framework=False, standard=(), custom=(), frameworks=()):
        self.fail_framework = fail_framework
        self.standard = list(standard)
        self.custom = {c["id"]: c for c in custom}
        self.frameworks = list(frameworks)
        self.created: list[dict] = []
        self.deleted: list[str] = []

    def list_assessment_frameworks(self, frameworkType, maxResults, nextToken=None):
        return {"frameworkMetadataList": self.frameworks}

    def list_controls(self, controlType, maxResults, nextToken=None):
        items = self.standard if controlType == "Standard" else list(self.custom.values())
        return {"controlMetadataList": [{"id": c["id"], "name": c["name"]} for c in items]}

    def get_control(self, controlId):
        return {"control": self.custom[controlId]}

    def create_control(self, **params):
        control = {"id": f"c0000000-0000-4000-8000-{len(self.created):012d}", **params}
        self.created.append(control)
        self.custom[control["id"]] = control
        return {"control": control}

    def delete_control(self, controlId):
        self.deleted.append(controlId)
        del self.custom[controlId]

    def create_assessment_framework(self, **params):
        if self.fail_framework:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "ValidationException", "Message": "nope"}},
                              "CreateAssessmentFramework")
        return {"framework": {"id": "f0000000-0000-4000-8000-000000000001", **params}}


def test_apply_is_all_or_nothing(tmp_path):
    plan = plan_import(write(tmp_path / "widgets.json", widget_catalog()))
    client = FakeClient(fail_framework=True)
    with pytest.raises(OscalError, match="ValidationException: nope"):
        apply_import(client, plan)
    assert len(client.created) == 4 and sorted(client.deleted) == sorted(c["id"] for c in client.created)
    assert client.custom == {}


def test_apply_reuses_identical_controls_and_renames_different_ones(tmp_path):
    plan = plan_import(write(tmp_path / "widgets.json", widget_catalog()))
    same = {"id": "d0000000-0000-4000-8000-000000000001", **plan.controls[0].create_control_params()}
    different = {"id": "d0000000-0000-4000-8000-000000000002", "name": plan.controls[1].name,
                 "description": "Something else"}
    client = FakeClient(custom=[same, different])
    result = apply_import(client, plan)
    assert result.reused == 1 and result.created == 3 and result.standard == 0
    assert result.renamed == [(plan.controls[1].name,
                               f"{plan.controls[1].name} (Widget Security Catalog)")]
    sets = result.framework["controlSets"]
    assert sets[0]["controls"][0] == {"id": same["id"]}


def test_apply_refuses_an_existing_framework_name(tmp_path):
    plan = plan_import(write(tmp_path / "widgets.json", widget_catalog()))
    client = FakeClient(frameworks=[{"id": "x", "name": "Widget Security Catalog"}])
    with pytest.raises(OscalError, match="already exists.*--name"):
        apply_import(client, plan)
    assert client.created == []


def test_apply_matches_standard_controls_by_library_or_label():
    plan = plan_import(NIST_LOW)
    library = load_library()
    # Assay: the library's ids.
    standard = [{"id": library.control_by_key(c.standard_key).id, "name": "whatever"}
                for c in plan.controls]
    result = apply_import(FakeClient(standard=standard), plan)
    assert result.standard == 149 and result.created == 0
    # Another server (AWS): unique names starting with the label.
    aws = [{"id": f"e0000000-0000-4000-8000-{i:012d}",
            "name": f"{c.standard_key.split('/')[1]}: {c.title}"} for i, c in enumerate(plan.controls)]
    aws = [{**a, "name": a["name"].replace(":", "", 1)} if i % 2 else a for i, a in enumerate(aws)]
    result = apply_import(FakeClient(standard=aws), plan)
    assert result.standard == 149
    ids = [c["id"] for s in result.framework["controlSets"] for c in s["controls"]]
    assert ids == [a["id"] for a in aws]


def test_dry_run_decides_from_the_target(tmp_path):
    """The dry run reads the target (it shares preview_import with the import), so without
    credentials it says so instead of promising what the import may refuse."""
    from typer.testing import CliRunner

    from assay.cli import app
    from assay.oscal.client import preview_import

    path = write(tmp_path / "widgets.json", widget_catalog())
    preview = preview_import(FakeClient(), plan_import(path))
    summary = preview.summary()
    assert summary["controls"] == 4 and summary["controlSets"] == 2
    assert summary["customControlsToCreate"] == 4 and summary["customControlsReused"] == 0
    env = {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_PROFILE": None,
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_EC2_METADATA_DISABLED": "true"}
    result = CliRunner().invoke(app, ["oscal", "import", str(path), "--dry-run", "--json",
                                      "--endpoint-url", "http://127.0.0.1:9"], env=env)
    assert result.exit_code == 1 and "credentials" in result.output, result.output


def test_yaml_catalogs_are_read(tmp_path):
    import yaml

    path = tmp_path / "widgets.yaml"
    path.write_text(yaml.safe_dump(widget_catalog()))
    assert [c.oscal_id for c in plan_import(path).controls] == ["wd-1", "wd-1.1", "wd-2", "ops-1"]

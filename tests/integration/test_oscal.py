"""`assay oscal import|export` against a live server, through the Audit Manager API with the
credentials of an admin key. Every document written validates with compliance-trestle."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import orjson
import pytest
from support import walk
from trestle.oscal.catalog import Catalog
from trestle.oscal.component import ComponentDefinition
from trestle.oscal.profile import Profile
from typer.testing import CliRunner

from assay.cli import app
from assay.library import load_library

# NIST's OSCAL files as the library builders keep them (tools/library/sources: the catalog is
# stored gzip-compressed; nist_catalog() gives it as the plain file a user would have).
NIST = Path(__file__).resolve().parents[2] / "tools" / "library" / "sources" / "nist-sp800-53-r5"
NIST_LOW = NIST / "NIST_SP-800-53_rev5_LOW-baseline_profile-min.json"
NIST_CATALOG_NAME = "NIST_SP-800-53_rev5_catalog-min.json"


def nist_catalog(folder: Path) -> Path:
    """The NIST SP 800-53 r5 catalog written as plain JSON into `folder`."""
    path = folder / NIST_CATALOG_NAME
    path.write_bytes(gzip.decompress((NIST / f"{NIST_CATALOG_NAME}.gz").read_bytes()))
    return path


def nist_low(folder: Path) -> Path:
    """The LOW baseline profile in `folder`, with the catalog it imports beside it."""
    nist_catalog(folder)
    path = folder / NIST_LOW.name
    path.write_bytes(NIST_LOW.read_bytes())
    return path
MODELS = {"catalog": Catalog, "profile": Profile, "component-definition": ComponentDefinition}


def oscal(server, *args: str, tmp_path: Path, identity=None):
    """Run `assay oscal ...` as a user would, with credentials in the environment."""
    identity = identity or server.admin
    env = {"AWS_ACCESS_KEY_ID": identity.key_id, "AWS_SECRET_ACCESS_KEY": identity.secret,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_PROFILE": None, "AWS_SESSION_TOKEN": None,
           "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials")}
    command, *rest = args
    if command == "import":
        rest = [*rest, "--json"]
    return CliRunner().invoke(app, ["oscal", command, *rest, "--endpoint-url", server.url],
                              env=env)


def validate(path: Path):
    ((kind, body),) = orjson.loads(path.read_bytes()).items()
    return MODELS[kind].model_validate(body)


def custom_frameworks(client) -> dict[str, dict]:
    return {f["name"]: f for f in walk(client.list_assessment_frameworks, "frameworkMetadataList",
                                       frameworkType="Custom")}


def custom_controls(client) -> dict[str, str]:
    return {c["name"]: c["id"] for c in walk(client.list_controls, "controlMetadataList",
                                             controlType="Custom")}


def test_nist_low_profile_becomes_a_framework_of_standard_controls(server, admin, tmp_path):
    before = custom_controls(admin)
    result = oscal(server, "import", str(nist_low(tmp_path)), tmp_path=tmp_path)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["controls"] == 149 and summary["standardControls"] == 149
    assert summary["customControlsCreated"] == 0

    framework = admin.get_assessment_framework(frameworkId=summary["frameworkId"])["framework"]
    assert framework["type"] == "Custom"
    assert framework["name"] == "NIST Special Publication 800-53 Revision 5.1.1 LOW IMPACT BASELINE"
    controls = [c for s in framework["controlSets"] for c in s["controls"]]
    assert len(controls) == 149 and {c["type"] for c in controls} == {"Standard"}
    profile = orjson.loads(NIST_LOW.read_bytes())["profile"]
    wanted = profile["imports"][0]["include-controls"][0]["with-ids"]
    library = load_library()
    keys = {"NIST-800-53-r5/" + i.split(".")[0].upper()
            + "".join(f"({e})" for e in i.split(".")[1:]) for i in wanted}
    assert {c["id"] for c in controls} == {library.control_by_key(k).id for k in keys}
    # They keep their evidence sources: the framework collects what the library maps.
    ac2 = next(c for c in controls if c["name"].startswith("NIST 800-53 r5 AC-2 "))
    assert any(s["sourceType"] != "MANUAL" for s in ac2["controlMappingSources"])
    assert [s["name"] for s in framework["controlSets"]][:2] == ["Access Control",
                                                                 "Awareness and Training"]
    assert custom_controls(admin) == before

    # The same file again: refused, and nothing new.
    frameworks = custom_frameworks(admin)
    again = oscal(server, "import", str(nist_low(tmp_path)), tmp_path=tmp_path)
    assert again.exit_code == 1
    assert "already exists" in again.output and "--name" in again.output
    assert custom_frameworks(admin) == frameworks
    # Under another name it is a second framework.
    renamed = oscal(server, "import", str(nist_low(tmp_path)), "--name", "NIST LOW (copy)",
                    "--catalog", str(nist_catalog(tmp_path)), tmp_path=tmp_path)
    assert renamed.exit_code == 0, renamed.output
    assert json.loads(renamed.stdout)["standardControls"] == 149


def test_custom_framework_round_trip(server, admin, tmp_path):
    def create(name, sources, **text):
        return admin.create_control(name=name, controlMappingSources=sources, **text)["control"]

    mfa = create("IA-2(1) MFA for privileged users", [
        {"sourceName": "Root MFA", "sourceType": "AWS_Config",
         "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST",
                           "keywordValue": "ROOT_ACCOUNT_MFA_ENABLED"}},
        {"sourceName": "Credential report", "sourceType": "AWS_API_Call",
         "sourceFrequency": "WEEKLY",
         "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST",
                           "keywordValue": "iam_GetCredentialReport"}}],
        description="Privileged users sign in with MFA.\nNo exceptions.",
        testingInformation="Every privileged user in the credential report has MFA.",
        actionPlanTitle="Enforce MFA", actionPlanInstructions="Turn MFA on for the users listed.")
    logins = create("Console sign-in activity", [
        {"sourceName": "ConsoleLogin", "sourceType": "AWS_Cloudtrail",
         "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST",
                           "keywordValue": "signin_ConsoleLogin"}}],
        description="Console logins are recorded.")
    policy = create("Access policy approved", [{"sourceName": "Policy", "sourceType": "MANUAL"}],
                    testingInformation="The signed policy is uploaded.")
    standard = admin.list_controls(controlType="Standard", maxResults=1)["controlMetadataList"][0]
    framework = admin.create_assessment_framework(
        name="Round trip", description="Exported and imported again.", complianceType="Internal",
        controlSets=[{"name": "Identity", "controls": [{"id": mfa["id"]}, {"id": logins["id"]}]},
                     {"name": "Governance", "controls": [{"id": policy["id"]},
                                                         {"id": standard["id"]}]}])["framework"]

    out = tmp_path / "export"
    result = oscal(server, "export", "framework", framework["id"], "--out", str(out),
                   tmp_path=tmp_path)
    assert result.exit_code == 0, result.output
    for name in ("catalog.json", "profile.json", "component-definition.json"):
        validate(out / name)
    components = orjson.loads((out / "component-definition.json").read_bytes())
    values = {(p["name"], p["value"]) for c in components["component-definition"]["components"]
              for r in c["control-implementations"][0]["implemented-requirements"]
              for p in r.get("props", [])}
    assert {("source-type", "AWS_Config"), ("keyword", "ROOT_ACCOUNT_MFA_ENABLED"),
            ("frequency", "WEEKLY"), ("source-name", "Credential report"),
            ("keyword", "signin_ConsoleLogin")} <= values

    # Exporting again writes the same bytes.
    again = tmp_path / "again"
    assert oscal(server, "export", "framework", framework["id"], "--out", str(again),
                 tmp_path=tmp_path).exit_code == 0
    assert (again / "catalog.json").read_bytes() == (out / "catalog.json").read_bytes()

    def text(fw):
        return [(s["name"], [(c["name"], c.get("description"), c.get("testingInformation"),
                              c.get("actionPlanTitle"), c.get("actionPlanInstructions"))
                             for c in s["controls"]]) for s in fw["controlSets"]]

    for document, name in (("catalog.json", "Round trip (catalog)"),
                           ("profile.json", "Round trip (profile)")):
        imported = oscal(server, "import", str(out / document), "--name", name, tmp_path=tmp_path)
        assert imported.exit_code == 0, imported.output
        summary = json.loads(imported.stdout)
        copy = admin.get_assessment_framework(frameworkId=summary["frameworkId"])["framework"]
        assert text(copy) == text(framework)
        assert copy["description"] == "Exported and imported again."
        assert copy["complianceType"] == "Internal"
        # The custom controls were the same, so they are reused, not duplicated; the
        # standard control stays standard.
        assert summary["customControlsCreated"] == 0 and summary["customControlsReused"] == 3
        assert summary["standardControls"] == 1


def test_foreign_catalog_becomes_custom_controls_with_one_manual_source(server, admin, tmp_path):
    catalog = {"catalog": {
        "uuid": "0b8f7a5e-8c66-4b59-9a7e-3c1d2e4f5a6b",
        "metadata": {"title": "Widget_Controls", "last-modified": "2026-01-01T00:00:00Z",
                     "version": "1", "oscal-version": "1.1.2"},
        "groups": [{"id": "w", "title": "Widget_Safety", "controls": [
            {"id": "w-1", "title": "Guard widgets", "props": [{"name": "label", "value": "W-1"}],
             "params": [{"id": "w-1_prm_1", "label": "organization-defined frequency"}],
             "parts": [{"id": "w-1_smt", "name": "statement",
                        "prose": "Guard widgets {{ insert: param, w-1_prm_1 }}."},
                       {"id": "w-1_gdn", "name": "guidance", "prose": "Guards help."}],
             "controls": [{"id": "w-1.1", "title": "Guard logs",
                           "props": [{"name": "label", "value": "W-1(1)"}]}]}]}]}}
    path = tmp_path / "widgets.json"
    path.write_bytes(orjson.dumps(catalog))
    result = oscal(server, "import", str(path), tmp_path=tmp_path)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["customControlsCreated"] == 2
    framework = admin.get_assessment_framework(frameworkId=summary["frameworkId"])["framework"]
    assert framework["name"] == "Widget_Controls"
    (control_set,) = framework["controlSets"]
    assert control_set["name"] == "Widget-Safety"
    first, second = control_set["controls"]
    assert first["name"] == "W-1 Guard widgets" and second["name"] == "W-1(1) Guard logs"
    assert first["description"] == "Guard widgets [Assignment: organization-defined frequency]."
    assert first["testingInformation"] == "Guards help."
    (source,) = first["controlMappingSources"]
    assert source["sourceType"] == "MANUAL" and source["sourceName"] == "Manual evidence"
    assert source["sourceSetUpOption"] == "Procedural_Controls_Mapping"
    assert "W-1 (Guard widgets)" in source["sourceDescription"]


@pytest.mark.parametrize("case", ["not-oscal", "unknown-control", "component-definition"])
def test_bad_files_are_refused_and_create_nothing(server, admin, tmp_path, case):
    frameworks, controls = custom_frameworks(admin), custom_controls(admin)
    if case == "not-oscal":
        path = tmp_path / "notes.json"
        path.write_text(json.dumps({"title": "my notes"}))
        message = "not an OSCAL document"
    elif case == "unknown-control":
        profile = orjson.loads(NIST_LOW.read_bytes())
        profile["profile"]["imports"][0]["include-controls"][0]["with-ids"].append("zz-99")
        path = tmp_path / "profile.json"
        path.write_bytes(orjson.dumps(profile))
        nist_catalog(tmp_path)
        message = "does not have: zz-99"
    else:
        path = tmp_path / "component.json"
        path.write_text(json.dumps({"component-definition": {"uuid": "x", "metadata": {}}}))
        message = "takes a catalog or a profile"
    result = oscal(server, "import", str(path), tmp_path=tmp_path)
    assert result.exit_code == 1
    assert message in result.output
    assert custom_frameworks(admin) == frameworks and custom_controls(admin) == controls


def test_standard_framework_exports_valid_oscal(server, admin, tmp_path):
    standard = next(f for f in walk(admin.list_assessment_frameworks, "frameworkMetadataList",
                                    frameworkType="Standard")
                    if f["name"] == "NIST SP 800-53 Revision 5 LOW baseline")
    result = oscal(server, "export", "framework", standard["id"], "--out", str(tmp_path / "low"),
                   tmp_path=tmp_path)
    assert result.exit_code == 0, result.output
    catalog = validate(tmp_path / "low" / "catalog.json")
    validate(tmp_path / "low" / "profile.json")
    validate(tmp_path / "low" / "component-definition.json")
    assert sum(len(g.controls or []) for g in catalog.groups) == 149

    # ...and imports back as a framework of the same standard controls.
    imported = oscal(server, "import", str(tmp_path / "low" / "profile.json"), "--name",
                     "LOW again", tmp_path=tmp_path)
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["standardControls"] == 149


def test_errors_from_the_api_are_clear(server, tmp_path):
    missing = "00000000-0000-4000-8000-000000000000"
    result = oscal(server, "export", "framework", missing, "--out", str(tmp_path / "x"),
                   tmp_path=tmp_path)
    assert result.exit_code == 1
    assert "ResourceNotFoundException" in result.output
    auditor = server.identity("auditor")
    path = tmp_path / "c.json"
    path.write_bytes(orjson.dumps({"catalog": {"uuid": "x", "metadata": {"title": "T"},
                                               "controls": [{"id": "a-1", "title": "A"}]}}))
    denied = oscal(server, "import", str(path), tmp_path=tmp_path, identity=auditor)
    assert denied.exit_code == 1 and "AccessDeniedException" in denied.output


def test_dry_run_and_import_agree(server, admin, tmp_path):
    """The dry run decides from the target exactly as the import does: counts that match, and
    a name clash refused by both (it used to promise a framework the import then refused)."""
    catalog = {"catalog": {
        "uuid": "0b6f9a52-5f0e-4f43-9a3b-2d2f6c1f7a10",
        "metadata": {"title": f"Tiny catalog {tmp_path.name}", "last-modified":
                     "2026-11-30T00:00:00+00:00", "version": "1", "oscal-version": "1.1.2"},
        "groups": [{"id": "g1", "title": "Group one", "controls": [
            {"id": f"t-{n}", "title": f"Tiny {n} {tmp_path.name}", "parts": [
                {"id": f"t-{n}_smt", "name": "statement", "prose": f"Do thing {n}."}]}
            for n in (1, 2)]}]}}
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(catalog))
    planned = oscal(server, "import", str(path), "--dry-run", tmp_path=tmp_path)
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.stdout)
    assert (plan["controls"], plan["customControlsToCreate"], plan["customControlsReused"]) == (2, 2, 0)
    done = oscal(server, "import", str(path), tmp_path=tmp_path)
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["customControlsCreated"] == plan["customControlsToCreate"]
    assert summary["name"] == plan["name"]
    again_planned = oscal(server, "import", str(path), "--dry-run", tmp_path=tmp_path)
    again = oscal(server, "import", str(path), tmp_path=tmp_path)
    assert again_planned.exit_code == again.exit_code != 0
    assert "already exists" in again_planned.output and "already exists" in again.output
    renamed = oscal(server, "import", str(path), "--dry-run", "--name", f"Other {tmp_path.name}",
                    tmp_path=tmp_path)
    assert renamed.exit_code == 0, renamed.output
    assert json.loads(renamed.stdout)["customControlsReused"] == 2  # identical controls reused

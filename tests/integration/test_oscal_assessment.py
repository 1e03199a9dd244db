"""`assay oscal export assessment` against a live server: an assessment with manual evidence and
review decisions becomes OSCAL assessment-results that validate with compliance-trestle, with
findings that point into the catalog `assay oscal export framework` writes."""

from __future__ import annotations

from pathlib import Path

import orjson
from trestle.oscal.assessment_results import AssessmentResults
from trestle.oscal.catalog import Catalog
from typer.testing import CliRunner

from assay.cli import app

MANUAL = [{"sourceName": "Manual evidence", "sourceType": "MANUAL",
           "sourceDescription": "Upload the approved document"}]


def oscal(server, *args: str, tmp_path: Path):
    env = {"AWS_ACCESS_KEY_ID": server.admin.key_id, "AWS_SECRET_ACCESS_KEY": server.admin.secret,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_PROFILE": None, "AWS_SESSION_TOKEN": None,
           "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials")}
    return CliRunner().invoke(app, ["oscal", *args, "--endpoint-url", server.url], env=env)


def test_assessment_results_from_a_live_assessment(server, admin, tmp_path):
    names = ["AR-1 Access reviews", "AR-2 Backup policy", "AR-3 Incident contacts",
             "AR-4 Retired control"]
    controls = [admin.create_control(name=n, description=f"{n} are done.",
                                     controlMappingSources=MANUAL)["control"] for n in names]
    framework = admin.create_assessment_framework(name="OSCAL results framework", controlSets=[
        {"name": "Operations", "controls": [{"id": c["id"]} for c in controls[:2]]},
        {"name": "Response", "controls": [{"id": c["id"]} for c in controls[2:]]},
    ])["framework"]
    assessment = admin.create_assessment(
        name="OSCAL results", description="Assessment for the OSCAL export",
        frameworkId=framework["id"], scope={"awsAccounts": [{"id": "111122223333"}]},
        roles=[{"roleType": "PROCESS_OWNER", "roleArn": server.admin.arn}],
        assessmentReportsDestination={})["assessment"]
    aid = assessment["metadata"]["id"]
    reviewed, pending, empty, retired = (c["id"] for c in controls)

    for control_set, control_id, text in (
            ("Operations", reviewed, "Quarterly access review minutes, signed."),
            ("Operations", reviewed, "List of removed users."),
            ("Operations", pending, "Draft backup policy.")):
        errors = admin.batch_import_evidence_to_assessment_control(
            assessmentId=aid, controlSetId=control_set, controlId=control_id,
            manualEvidence=[{"textResponse": text}])["errors"]
        assert errors == []
    admin.update_assessment_control(assessmentId=aid, controlSetId="Operations",
                                    controlId=reviewed, controlStatus="REVIEWED",
                                    commentBody="Evidence complete.")
    admin.update_assessment_control(assessmentId=aid, controlSetId="Response",
                                    controlId=retired, controlStatus="INACTIVE")

    result = oscal(server, "export", "framework", framework["id"], "--out",
                   str(tmp_path / "framework"), tmp_path=tmp_path)
    assert result.exit_code == 0, result.output
    out = tmp_path / "results" / "assessment-results.json"
    result = oscal(server, "export", "assessment", aid, "--out", str(out), tmp_path=tmp_path)
    assert result.exit_code == 0, result.output

    document = orjson.loads(out.read_bytes())
    AssessmentResults.model_validate(document["assessment-results"])
    (results,) = document["assessment-results"]["results"]
    observations = results["observations"]
    assert len(observations) == 3
    assert {o["methods"][0] for o in observations} == {"EXAMINE"}  # manual: no compliance check
    findings = {f["title"]: f for f in results["findings"]}
    assert set(findings) == set(names[:3])  # the INACTIVE control is out of scope
    state = {t: (f["target"]["status"]["state"], f["target"]["status"]["reason"])
             for t, f in findings.items()}
    assert state == {"AR-1 Access reviews": ("satisfied", "pass"),
                     "AR-2 Backup policy": ("not-satisfied", "other"),
                     "AR-3 Incident contacts": ("not-satisfied", "other")}
    assert len(findings["AR-1 Access reviews"]["related-observations"]) == 2
    assert "Evidence complete." in findings["AR-1 Access reviews"]["remarks"]

    catalog = orjson.loads((tmp_path / "framework" / "catalog.json").read_bytes())
    Catalog.model_validate(catalog["catalog"])
    statements = {p["id"] for g in catalog["catalog"]["groups"] for c in g["controls"]
                  for p in c["parts"] if p["name"] == "statement"}
    assert {f["target"]["target-id"] for f in results["findings"]} <= statements
    assert {f["target"]["target-id"] for f in results["findings"]} == {
        "ar-1_smt", "ar-2_smt", "ar-3_smt"}

    # The export is stable while nothing changes.
    again = tmp_path / "again.json"
    assert oscal(server, "export", "assessment", aid, "--out", str(again),
                 tmp_path=tmp_path).exit_code == 0
    assert again.read_bytes() == out.read_bytes()

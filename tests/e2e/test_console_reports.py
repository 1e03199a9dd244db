"""A report with nothing selected is created only when the owner confirms it (issue: "a report
never looks cleaner than the truth")."""

from __future__ import annotations

import time

from conftest import sign_in
from playwright.sync_api import expect
from support import append_config_checks



def test_an_empty_report_needs_a_confirmation(server, world, page, shot):
    owner = server.client(world.owner)
    framework = owner.get_assessment(assessmentId=world.assessment_id)["assessment"]["framework"]
    aid = owner.create_assessment(
        name=f"nothing selected {time.time_ns()}", frameworkId=framework["id"],
        scope={"awsAccounts": [{"id": "111122223333"}]},
        roles=[{"roleType": "PROCESS_OWNER", "roleArn": world.owner.arn}],
        assessmentReportsDestination={})["assessment"]["metadata"]["id"]
    control_set = framework["controlSets"][0]
    append_config_checks(server.services, aid, control_set["id"], control_set["controls"][0]["id"],
                         ["NON_COMPLIANT"] * 2 + ["COMPLIANT"] * 3, "empty-report")

    sign_in(page, world.owner, f"/console/reports?assessment={aid}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Assessment reports")
    page.get_by_label("Report name").fill("nothing-in-it")
    page.get_by_role("button", name="Create report").click()
    expect(page.locator(".flash-error")).to_contain_text(
        "No evidence is selected for this report: it would show none of the assessment's 5 "
        "evidence items (2 failed checks)")
    assert [r for r in owner.list_assessment_reports()["assessmentReports"]
            if r["assessmentId"] == aid] == []
    shot(page, "report-empty-refused")

    page.get_by_label("Report name").fill("nothing-in-it")
    page.get_by_label("Create it with nothing selected").check()
    page.get_by_role("button", name="Create report").click()
    expect(page.locator(".flash-ok")).to_contain_text("is being built")
    assert [r["name"] for r in owner.list_assessment_reports()["assessmentReports"]
            if r["assessmentId"] == aid] == ["nothing-in-it"]

"""Frameworks through boto3: control sets over standard and custom controls, read-only standard."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from support import walk

MANUAL = [{"sourceName": "m", "sourceType": "MANUAL"}]


@pytest.fixture(scope="module")
def controls(server):
    client = server.client()
    custom = [client.create_control(name=f"fw-control-{i}", controlMappingSources=MANUAL)["control"]
              for i in range(3)]
    standard = client.list_controls(controlType="Standard", maxResults=2)["controlMetadataList"]
    return custom, standard


def test_create_read_update_delete(admin, controls):
    custom, standard = controls
    framework = admin.create_assessment_framework(
        name="My framework", description="d", complianceType="SOC 2",
        controlSets=[{"name": "Set A", "controls": [{"id": custom[0]["id"]}, {"id": custom[1]["id"]}]},
                     {"name": "Set B", "controls": [{"id": c["id"]} for c in standard] or
                      [{"id": custom[2]["id"]}]}],
        tags={"owner": "grc"},
    )["framework"]
    assert framework["type"] == "Custom" and framework["tags"] == {"owner": "grc"}
    assert [s["name"] for s in framework["controlSets"]] == ["Set A", "Set B"]
    assert [c["id"] for c in framework["controlSets"][0]["controls"]] == [custom[0]["id"], custom[1]["id"]]
    assert framework["controlSets"][0]["controls"][0]["name"] == "fw-control-0"
    # Framework.controlSources is deprecated in the model ("no longer supported"): not returned.
    assert "controlSources" not in framework

    assert admin.get_assessment_framework(frameworkId=framework["id"])["framework"] == framework
    listed = {f["id"]: f for f in walk(admin.list_assessment_frameworks, "frameworkMetadataList",
                                       frameworkType="Custom")}
    meta = listed[framework["id"]]
    assert meta["controlSetsCount"] == 2
    assert meta["controlsCount"] == sum(len(s["controls"]) for s in framework["controlSets"])
    assert meta["complianceType"] == "SOC 2"

    set_a = framework["controlSets"][0]
    updated = admin.update_assessment_framework(
        frameworkId=framework["id"], name="My framework v2", complianceType="SOC 2",
        controlSets=[{"id": set_a["id"], "name": "Set A", "controls": [{"id": custom[2]["id"]}]}],
    )["framework"]
    assert updated["name"] == "My framework v2"
    assert updated["controlSets"][0]["id"] == set_a["id"]
    assert [c["id"] for c in updated["controlSets"][0]["controls"]] == [custom[2]["id"]]

    # A control a framework uses cannot be deleted from under it.
    with pytest.raises(ClientError) as caught:
        admin.delete_control(controlId=custom[2]["id"])
    assert caught.value.response["Error"]["Code"] == "ValidationException"

    admin.delete_assessment_framework(frameworkId=framework["id"])
    with pytest.raises(ClientError) as caught:
        admin.get_assessment_framework(frameworkId=framework["id"])
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    admin.delete_control(controlId=custom[2]["id"])


def test_unknown_control_is_named_and_nothing_is_created(admin, controls):
    custom, _ = controls
    before = walk(admin.list_assessment_frameworks, "frameworkMetadataList", frameworkType="Custom")
    missing = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(ClientError) as caught:
        admin.create_assessment_framework(name="broken", controlSets=[
            {"name": "S", "controls": [{"id": custom[0]["id"]}, {"id": missing}]}])
    error = caught.value.response
    assert error["Error"]["Code"] == "ValidationException"
    assert error["fields"] == [{"name": "controlSets[0].controls[1].id",
                                "message": f"Control {missing} does not exist."}]
    assert walk(admin.list_assessment_frameworks, "frameworkMetadataList",
                frameworkType="Custom") == before


def test_control_set_rules(admin, controls):
    custom, _ = controls
    for control_sets in (
        [{"name": "S", "controls": [{"id": custom[0]["id"]}]}, {"name": "S", "controls": [{"id": custom[1]["id"]}]}],
        [{"name": "S", "controls": [{"id": custom[0]["id"]}, {"id": custom[0]["id"]}]}],
        [{"name": "bad_name", "controls": [{"id": custom[0]["id"]}]}],
    ):
        with pytest.raises(ClientError) as caught:
            admin.create_assessment_framework(name="rules", controlSets=control_sets)
        assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_duplicate_framework_name(admin, controls):
    custom, _ = controls
    admin.create_assessment_framework(name="dup-fw", controlSets=[
        {"name": "S", "controls": [{"id": custom[0]["id"]}]}])
    with pytest.raises(ClientError) as caught:
        admin.create_assessment_framework(name="dup-fw", controlSets=[
            {"name": "S", "controls": [{"id": custom[0]["id"]}]}])
    assert caught.value.response["fields"][0]["name"] == "name"


def test_standard_frameworks_are_listed_read_and_read_only(admin, server):
    standard = walk(admin.list_assessment_frameworks, "frameworkMetadataList", frameworkType="Standard")
    assert len(standard) == len(server.services.library.frameworks) > 0
    framework = admin.get_assessment_framework(frameworkId=standard[0]["id"])["framework"]
    assert framework["type"] == "Standard"
    assert sum(len(s["controls"]) for s in framework["controlSets"]) == standard[0]["controlsCount"]
    for call, kwargs in [
        (admin.update_assessment_framework, {"name": "x", "controlSets": [
            {"name": "S", "controls": [{"id": framework["controlSets"][0]["controls"][0]["id"]}]}]}),
        (admin.delete_assessment_framework, {}),
    ]:
        with pytest.raises(ClientError) as caught:
            call(frameworkId=framework["id"], **kwargs)
        assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert admin.get_assessment_framework(frameworkId=framework["id"])["framework"] == framework


def test_standard_ids_are_deterministic(server, tmp_path):
    from assay.library import control_id, framework_id

    library = server.services.library
    for framework in library.frameworks.values():
        assert framework.id == framework_id(framework.key)
    for control in list(library.controls.values())[:50]:
        assert control.id == control_id(control.key)

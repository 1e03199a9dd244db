"""Library files: lines, schema, model rules, canonical forms, diffs and export layout."""

from __future__ import annotations

import textwrap

import pytest

from assay.api import wire
from assay.fac.canonical import control_document, framework_document
from assay.fac.documents import BadInput, load, read_document, schema
from assay.fac.export import dump, file_names
from assay.fac.plan import FieldChange, diff
from assay.fac.targets import Target, targets
from assay.service.sharing import free_name, received_id


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(paths) -> list[str]:
    with pytest.raises(BadInput) as caught:
        load(paths)
    return [str(p) for p in caught.value.problems]


def test_every_value_has_its_line(tmp_path):
    path = write(tmp_path, "a.yaml", """\
        controls:
          - name: A
            controlMappingSources:
              - sourceName: s
                sourceType: MANUAL
        """)
    document, lines, found = read_document(path)
    assert not found and document["controls"][0]["name"] == "A"
    assert lines[("controls", 0, "name")] == 2
    assert lines[("controls", 0, "controlMappingSources", 0, "sourceType")] == 5
    json_path = write(tmp_path, "a.json", '{\n  "controls": [\n    {"name": "A"}\n  ]\n}\n')
    _, lines, _ = read_document(json_path)
    assert lines[("controls", 0, "name")] == 3


def test_duplicate_keys_and_syntax_errors_are_named(tmp_path):
    twice = write(tmp_path, "twice.yaml", """\
        controls:
          - name: A
            name: B
            controlMappingSources: [{sourceName: s, sourceType: MANUAL}]
        """)
    broken = write(tmp_path, "broken.yaml", "controls: [\n  {name: A\n")
    found = problems([twice, broken])
    assert f"{twice}:3: controls[0].name: defined twice" in found
    assert any(p.startswith(f"{broken}:") for p in found)


def test_schema_problems_name_file_line_and_field(tmp_path):
    path = write(tmp_path, "bad.yaml", """\
        controls:
          - name: A
            colour: blue
            controlMappingSources:
              - sourceType: AWS_Config
                sourceName: 7
        frameworks:
          - name: F
            controlSets:
              - name: S
                controls:
                  - {name: A, typ: Custom}
                  - {name: A, type: Both}
                  - 12
        """)
    found = problems([path])
    assert f"{path}:3: controls[0].colour: unknown field" in found
    assert f"{path}:6: controls[0].controlMappingSources[0].sourceName: 7 is not of type 'string'" in found
    assert f"{path}:12: frameworks[0].controlSets[0].controls[0].typ: unknown field" in found
    assert any(p.startswith(f"{path}:13: frameworks[0].controlSets[0].controls[1].type: 'Both' "
                            "is not one of") for p in found)
    assert f"{path}:14: frameworks[0].controlSets[0].controls[2]: must be a control name or " \
           "{name, type}" in found


def test_model_and_keyword_rules(tmp_path):
    path = write(tmp_path, "rules.yaml", f"""\
        controls:
          - name: 'back\\slash'
            description: {"x" * 1001}
            controlMappingSources:
              - sourceName: s
                sourceType: AWS_Security_Hub
                sourceKeyword: {{keywordValue: IAM.999}}
              - sourceName: t
                sourceType: AWS_Config
                sourceKeyword: {{keywordValue: IAM_PASSWORD_POLICY}}
                sourceFrequency: DAILY
        """)
    found = problems([path])
    assert f"{path}:2: controls[0].name: Member must satisfy regular expression pattern: ^[^\\\\]*$" in found
    assert f"{path}:3: controls[0].description: Member must have length less than or equal to 1000." in found
    assert any(p.startswith(f"{path}:7: controls[0].controlMappingSources[0].sourceKeyword."
                            "keywordValue: 'IAM.999' is not a AWS_Security_Hub keyword") for p in found)
    assert f"{path}:11: controls[0].controlMappingSources[1].sourceFrequency: Only AWS_API_Call " \
           "sources have a collection frequency." in found


def test_names_are_unique_across_files(tmp_path):
    text = "controls:\n  - name: A\n    controlMappingSources: [{sourceName: s, sourceType: MANUAL}]\n"
    one, two = write(tmp_path, "1.yaml", text), write(tmp_path, "2.yaml", text)
    assert problems([tmp_path]) == [
        f"{two}:2: controls[0].name: control 'A' is already defined at {one}:2"]


def test_good_files_load(tmp_path):
    write(tmp_path, "lib.yaml", """\
        controls:
          - name: A
            controlMappingSources: [{sourceName: s, sourceType: AWS_Cloudtrail,
                                     sourceKeyword: {keywordValue: iam_CreateUser}}]
        frameworks:
          - name: F
            tags: {b: "2", a: "1"}
            controlSets:
              - name: S
                controls: [A, {name: "1.5 MFA on the root user", type: Standard}]
        """)
    (tmp_path / "notes.txt").write_text("not a library file")
    definitions = load([tmp_path])
    assert definitions.controls["A"].document["controlMappingSources"] == [{
        "sourceName": "s", "sourceSetUpOption": "System_Controls_Mapping",
        "sourceType": "AWS_Cloudtrail",
        "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": "iam_CreateUser"}}]
    framework = definitions.frameworks["F"]
    assert list(framework.document["tags"]) == ["a", "b"]
    assert [(r.name, r.type, r.where.line) for r in framework.control_sets[0][1]] == [
        ("A", None, 10), ("1.5 MFA on the root user", "Standard", 10)]


def test_canonical_forms_of_a_file_and_of_the_api_agree():
    from_file = {"name": "A", "description": "", "controlMappingSources": [
        {"sourceName": "u", "sourceType": "AWS_API_Call", "sourceKeyword": {"keywordValue": "iam_ListUsers"}},
        {"sourceName": "m", "sourceType": "MANUAL"}]}
    from_api = {"arn": "arn:...", "id": "x", "type": "Custom", "name": "A", "tags": {},
                "controlMappingSources": [
                    {"sourceId": "1", "sourceName": "u", "sourceType": "AWS_API_Call",
                     "sourceSetUpOption": "System_Controls_Mapping", "sourceFrequency": "DAILY",
                     "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST",
                                       "keywordValue": "iam_ListUsers"}},
                    {"sourceId": "2", "sourceName": "m", "sourceType": "MANUAL",
                     "sourceSetUpOption": "Procedural_Controls_Mapping"}]}
    assert control_document(from_file) == control_document(from_api)
    assert list(control_document(from_api)) == ["name", "controlMappingSources"]
    framework = framework_document({"id": "f", "name": "F", "description": None, "controlSets": [
        {"id": "s", "name": "S", "controls": [{"id": "c", "name": "A", "type": "Custom", "arn": "x"}]}]})
    assert framework == {"name": "F", "controlSets": [
        {"name": "S", "controls": [{"name": "A", "type": "Custom"}]}]}


def test_diff():
    old = {"name": "A", "description": "x", "controlMappingSources": [
        {"sourceName": "s", "sourceKeyword": {"keywordValue": "a"}}]}
    new = {"name": "A", "controlMappingSources": [
        {"sourceName": "s", "sourceKeyword": {"keywordValue": "b"}}], "tags": {"k": "v"}}
    assert diff(old, new) == [
        FieldChange("description", "x", None),
        FieldChange("controlMappingSources[0].sourceKeyword.keywordValue", "a", "b"),
        FieldChange("tags", None, {"k": "v"})]
    refs = [{"name": "A", "type": "Custom"}]
    grown = refs + [{"name": "B", "type": "Standard"}]
    assert diff({"controls": refs}, {"controls": grown}) == [FieldChange("controls", refs, grown)]
    assert diff(old, old) == []


def test_schema_follows_the_model():
    model = wire.service_model()
    source = schema()["$defs"]["mappingSource"]["properties"]
    members = model.shape_for("CreateControlMappingSource").members
    assert source["sourceSetUpOption"]["enum"] == members["sourceSetUpOption"].enum
    assert source["sourceFrequency"]["enum"] == members["sourceFrequency"].enum
    assert set(source["sourceType"]["enum"]) < set(members["sourceType"].enum)
    assert set(source) - {"sourceId"} == set(members)
    keyword = schema()["$defs"]["mappingSource"]["properties"]["sourceKeyword"]["properties"]
    assert keyword["keywordInputType"]["enum"] == model.shape_for("SourceKeyword").members[
        "keywordInputType"].enum
    control = set(schema()["$defs"]["control"]["properties"])
    assert control == set(model.shape_for("CreateControlRequest").members)
    framework = set(schema()["$defs"]["framework"]["properties"])
    assert framework == set(model.shape_for("CreateAssessmentFrameworkRequest").members)


def test_export_is_deterministic_and_readable():
    document = {"controls": [{"name": "A", "description": "line one\nline two\n",
                              "controlMappingSources": [{"sourceName": "1.10", "sourceType": "MANUAL"}]}]}
    text = dump(document)
    assert text == dump(document)
    assert text.startswith("controls:\n  - name: A\n    description: |\n      line one\n      line two\n")
    assert "sourceName: '1.10'" in text  # quoted, so it reads back as text
    names = file_names(["Slug: twin", "slug twin", "Other"])
    assert names["Other"] == "other.yaml"
    assert names["Slug: twin"] != names["slug twin"]
    assert names["Slug: twin"].startswith("slug-twin-")
    assert file_names(["Slug: twin"]) == {"Slug: twin": "slug-twin.yaml"}


def test_targets_pair_endpoints_with_profiles_and_cross_regions():
    assert targets(["a", "b"], ["p", "q"], ["r1", "r2"]) == [
        Target("a", "p", "r1"), Target("a", "p", "r2"), Target("b", "q", "r1"), Target("b", "q", "r2")]
    assert targets(["a", "b"], ["p"], None) == [Target("a", "p", None), Target("b", "p", None)]
    assert targets(None, ["p", "q"], ["r"]) == [Target(None, "p", "r"), Target(None, "q", "r")]
    assert targets(None, None, None) == [Target()]
    with pytest.raises(BadInput):
        targets(["a", "b"], ["p", "q", "r"], None)


def test_shared_copies_get_free_names():
    assert free_name("F", set(), 300) == "F"
    assert free_name("F", {"F"}, 300) == "F (shared)"
    assert free_name("F", {"F", "F (shared)"}, 300) == "F (shared 2)"
    long = "x" * 300
    assert free_name(long, {long}, 300) == "x" * 291 + " (shared)"
    assert received_id("a") == received_id("a") != received_id("b")


def test_migration_maps_standard_controls_by_name_and_reports_the_rest():
    from assay.fac.migrate import definitions_from
    from assay.fac.targets import Existing, TargetState

    def refs(*pairs):
        return [{"name": n, "type": t} for n, t in pairs]

    control = {"name": "C", "controlMappingSources": [{"sourceName": "m", "sourceType": "MANUAL"}]}
    source = TargetState(
        controls={"C": Existing("1", "arn:c", control)},
        frameworks={
            "F": Existing("2", "arn:f", {"name": "F", "controlSets": [
                {"name": "S", "controls": refs(("C", "Custom"), ("Std", "Standard"),
                                               ("Catalog", "Core"))},
                {"name": "T", "controls": refs(("Gone", "Standard"))}]}),
            "G": Existing("3", "arn:g", {"name": "G", "controlSets": [
                {"name": "U", "controls": refs(("Gone", "Standard"))}]})},
        standard={})
    target = TargetState({}, {}, {"Std": "std-id"})
    definitions, unmapped = definitions_from(source, target, "aws")
    assert list(definitions.controls) == ["C"] and list(definitions.frameworks) == ["F"]
    [(name, kept)] = definitions.frameworks["F"].control_sets
    assert name == "S" and [(r.name, r.type) for r in kept] == [("C", "Custom"), ("Std", "Standard")]
    assert unmapped == [
        "framework 'F', control set 'S': core control 'Catalog' has no standard control of "
        "that name on the target; left out",
        "framework 'F', control set 'T': standard control 'Gone' has no standard control of "
        "that name on the target; left out",
        "framework 'F': control set 'T' has no control left; left out",
        "framework 'G', control set 'U': standard control 'Gone' has no standard control of "
        "that name on the target; left out",
        "framework 'G': control set 'U' has no control left; left out",
        "framework 'G' has no control left on the target; not migrated"]

"""Frameworks as code end to end: `assay apply`, `assay export` and `assay migrate` run as a
user runs them, against real Assay servers reached over boto3 only."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml
from botocore.awsrequest import AWSResponse
from support import TEST_BUCKETS, AssayServer, walk
from typer.testing import CliRunner

from assay.cli import app
from assay.fac import Target, load, prepare, targets

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "console-sign-in.yaml"
STANDARD_A = "CIS AWS v3.0.0 1.10 MFA for every IAM user with a console password"
STANDARD_B = "CIS AWS v3.0.0 4.2 Alarm on console sign-in without MFA"
STANDARD_C = "CIS AWS v3.0.0 1.5 MFA on the root user"
STANDARD_D = "CIS AWS v3.0.0 1.6 Hardware MFA on the root user"

LIBRARY = textwrap.dedent(f"""\
    controls:
      - name: Console sign-in activity
        description: Evidence of console sign-ins.
        tags: {{team: grc}}
        controlMappingSources:
          - sourceName: ConsoleLogin
            sourceType: AWS_Cloudtrail
            sourceKeyword: {{keywordValue: signin_ConsoleLogin}}
      - name: Access review
        description: |
          Quarterly access review.
          Upload the signed review.
        controlMappingSources:
          - sourceName: Review record
            sourceType: MANUAL
            sourceKeyword: {{keywordInputType: UPLOAD_FILE}}
      - name: IAM users listed
        controlMappingSources:
          - sourceName: Users
            sourceType: AWS_API_Call
            sourceKeyword: {{keywordValue: iam_ListUsers}}
            sourceFrequency: WEEKLY
    frameworks:
      - name: Console access
        description: Sign-in controls
        complianceType: Internal
        tags: {{owner: security}}
        controlSets:
          - name: Sign-in
            controls: [Console sign-in activity, {STANDARD_A}]
          - name: Reviews
            controls: [Access review, {{name: {STANDARD_B}, type: Standard}}]
      - name: Identity hygiene
        controlSets:
          - name: Users
            controls: [IAM users listed, {STANDARD_C}]
    """)


# --------------------------------------------------------------------------- harness


class Cli:
    """`assay ...` in-process, with a credentials file holding a profile per identity."""

    def __init__(self, home: Path):
        self.home = home
        self.credentials = home / "credentials"
        self.profiles: dict[str, object] = {}

    def profile(self, name: str, identity) -> str:
        self.profiles[name] = identity
        self.credentials.write_text("".join(
            f"[{n}]\naws_access_key_id = {i.key_id}\naws_secret_access_key = {i.secret}\n"
            for n, i in self.profiles.items()))
        return name

    def env(self) -> dict:
        return {"AWS_SHARED_CREDENTIALS_FILE": str(self.credentials),
                "AWS_CONFIG_FILE": str(self.home / "no-config"), "COLUMNS": "400",
                "AWS_PROFILE": None, "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None,
                "AWS_SESSION_TOKEN": None, "AWS_DEFAULT_REGION": None, "AWS_REGION": None,
                "AWS_ENDPOINT_URL": None}

    def __call__(self, *args: str):
        return CliRunner().invoke(app, [str(a) for a in args], env=self.env())

    def target_args(self, *servers: AssayServer, regions=("us-east-1",)) -> list[str]:
        args: list[str] = []
        for server in servers:
            profile = self.profile(f"p{server.url.rsplit(':', 1)[1]}", server.admin)
            args += ["--endpoint-url", server.url, "--profile", profile]
        for region in regions:
            args += ["--region", region]
        return args


@pytest.fixture
def cli(tmp_path, monkeypatch):
    harness = Cli(tmp_path)
    for name, value in harness.env().items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return harness


@pytest.fixture
def fresh(server, tmp_path_factory):
    """New, empty servers on the same backend, for tests that need to own all custom content."""
    started = []

    def start(**settings) -> AssayServer:
        settings.setdefault("s3_buckets", TEST_BUCKETS)
        instance = AssayServer.start(tmp_path_factory.mktemp("assay-fac"), server.backend,
                                     **settings)
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.stop()


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def content(server: AssayServer) -> dict:
    """A server's custom controls and frameworks, without ids or times: what must be equal."""
    client = server.client()
    controls = {}
    for meta in walk(client.list_controls, "controlMetadataList", controlType="Custom"):
        control = client.get_control(controlId=meta["id"])["control"]
        controls[control["name"]] = {
            k: control.get(k) for k in ("description", "testingInformation", "actionPlanTitle",
                                        "actionPlanInstructions", "tags", "controlSources")}
        controls[control["name"]]["sources"] = [
            {k: v for k, v in s.items() if k != "sourceId"} for s in control["controlMappingSources"]]
    frameworks = {}
    for meta in walk(client.list_assessment_frameworks, "frameworkMetadataList",
                     frameworkType="Custom"):
        framework = client.get_assessment_framework(frameworkId=meta["id"])["framework"]
        frameworks[framework["name"]] = {
            "description": framework.get("description"), "tags": framework.get("tags"),
            "complianceType": framework.get("complianceType"),
            "sets": [(s["name"], [(c["name"], c["type"]) for c in s["controls"]])
                     for s in framework["controlSets"]]}
    return {"controls": controls, "frameworks": frameworks}


def plans(server: AssayServer, cli: Cli, paths, prune=False):
    definitions = load(paths)
    found = targets([server.url], [cli.profile("plan", server.admin)], ["us-east-1"])
    return [item.plan for item in prepare(found, definitions, prune)]


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- the example


def test_documented_example_applies(fresh, cli):
    target = fresh()
    guide = (ROOT / "docs" / "frameworks-as-code.md").read_text()
    assert EXAMPLE.read_text().strip() in guide, "the guide shows the example file verbatim"

    result = cli("apply", EXAMPLE, *cli.target_args(target))
    assert result.exit_code == 0, result.output
    assert "+ control Console sign-in activity" in result.output
    framework = content(target)["frameworks"]["Console access"]
    assert framework["sets"] == [
        ("Console sign-in", [("Console sign-in activity", "Custom")]),
        ("Standard controls", [(STANDARD_A, "Standard"), (STANDARD_B, "Standard")])]
    control = content(target)["controls"]["Console sign-in activity"]
    assert control["sources"][0]["sourceKeyword"]["keywordValue"] == "signin_ConsoleLogin"


# --------------------------------------------------------------------------- apply


def test_two_regions_and_two_servers_get_identical_content(fresh, cli, tmp_path):
    one, two = fresh(), fresh()
    library = write(tmp_path / "lib", "library.yaml", LIBRARY)
    result = cli("apply", library, *cli.target_args(one, two, regions=("us-east-1", "eu-west-1")))
    assert result.exit_code == 0, result.output
    # Four targets: each server in each Region; the second Region of a server finds it done
    # (one library for all Regions), so it plans no change.
    assert result.output.count("Plan for ") == 4
    assert result.output.count("No changes (5 unchanged).") == 2
    assert content(one) == content(two)
    assert set(content(one)["controls"]) == {"Console sign-in activity", "Access review",
                                             "IAM users listed"}
    for region in ("us-east-1", "eu-west-1"):
        read = one.client(region=region).list_controls(controlType="Custom")["controlMetadataList"]
        assert all(f":{region}:" in c["arn"] for c in read)


def test_second_apply_changes_nothing(fresh, cli, tmp_path):
    target = fresh()
    library = write(tmp_path / "lib", "library.yaml", LIBRARY)
    assert cli("apply", library, *cli.target_args(target)).exit_code == 0
    before = {m["id"]: m["lastUpdatedAt"] for m in walk(
        target.client().list_controls, "controlMetadataList", controlType="Custom")}

    [plan] = plans(target, cli, [library])
    assert {c.action for c in plan.changes} == {"unchanged"} and len(plan.changes) == 5
    again = cli("apply", library, *cli.target_args(target))
    assert again.exit_code == 0, again.output
    assert "No changes (5 unchanged)." in again.output and "Applied 0 change(s)" in again.output
    after = {m["id"]: m["lastUpdatedAt"] for m in walk(
        target.client().list_controls, "controlMetadataList", controlType="Custom")}
    assert after == before


def test_changed_description_is_exactly_one_update(fresh, cli, tmp_path):
    target = fresh()
    library = write(tmp_path / "lib", "library.yaml", LIBRARY)
    assert cli("apply", library, *cli.target_args(target)).exit_code == 0
    write(tmp_path / "lib", "library.yaml",
          LIBRARY.replace("description: Sign-in controls", "description: Console sign-in controls"))

    [plan] = plans(target, cli, [library])
    changed = [c for c in plan.changes if c.action != "unchanged"]
    assert [(c.kind, c.name, c.action) for c in changed] == [("framework", "Console access", "update")]
    assert [(f.field, f.old, f.new) for f in changed[0].fields] == [
        ("description", "Sign-in controls", "Console sign-in controls")]

    dry = cli("apply", library, "--dry-run", *cli.target_args(target))
    assert dry.exit_code == 0, dry.output
    assert "~ framework Console access" in dry.output
    assert "description: \"Sign-in controls\" -> \"Console sign-in controls\"" in dry.output
    assert content(target)["frameworks"]["Console access"]["description"] == "Sign-in controls"

    assert cli("apply", library, *cli.target_args(target)).exit_code == 0
    assert content(target)["frameworks"]["Console access"]["description"] == "Console sign-in controls"
    # The framework keeps its id and its control sets theirs.
    [plan] = plans(target, cli, [library])
    assert all(c.action == "unchanged" for c in plan.changes)


def test_update_keeps_ids_and_retags(fresh, cli, tmp_path):
    target = fresh()
    library = write(tmp_path / "lib", "library.yaml", LIBRARY)
    assert cli("apply", library, *cli.target_args(target)).exit_code == 0
    client = target.client()
    control_id = next(m["id"] for m in walk(client.list_controls, "controlMetadataList",
                                            controlType="Custom") if m["name"] == "IAM users listed")
    source_id = client.get_control(controlId=control_id)["control"]["controlMappingSources"][0]["sourceId"]
    write(tmp_path / "lib", "library.yaml", LIBRARY
          .replace("sourceFrequency: WEEKLY", "sourceFrequency: MONTHLY")
          .replace("tags: {team: grc}", "tags: {team: audit, tier: one}"))
    result = cli("apply", library, *cli.target_args(target))
    assert result.exit_code == 0, result.output
    assert "controlMappingSources[0].sourceFrequency: \"WEEKLY\" -> \"MONTHLY\"" in result.output
    control = client.get_control(controlId=control_id)["control"]
    assert control["controlMappingSources"][0]["sourceId"] == source_id
    assert control["controlMappingSources"][0]["sourceFrequency"] == "MONTHLY"
    assert content(target)["controls"]["Console sign-in activity"]["tags"] == {"team": "audit",
                                                                              "tier": "one"}


def test_prune_removes_exactly_what_left_the_files(fresh, cli, tmp_path):
    target = fresh()
    library = write(tmp_path / "lib", "library.yaml", LIBRARY)
    assert cli("apply", library, *cli.target_args(target)).exit_code == 0
    # Content made by hand, not by the files: apply without --prune leaves it alone.
    target.client().create_control(name="Made by hand", controlMappingSources=[
        {"sourceName": "m", "sourceType": "MANUAL"}])
    shrunk = yaml.safe_load(LIBRARY)
    shrunk["controls"] = [c for c in shrunk["controls"] if c["name"] != "IAM users listed"]
    shrunk["frameworks"] = [f for f in shrunk["frameworks"] if f["name"] != "Identity hygiene"]
    write(tmp_path / "lib", "library.yaml", yaml.safe_dump(shrunk, sort_keys=False))

    assert cli("apply", library, *cli.target_args(target)).exit_code == 0
    assert "IAM users listed" in content(target)["controls"]

    [plan] = plans(target, cli, [library], prune=True)
    assert sorted((c.kind, c.name) for c in plan.changes if c.action == "delete") == [
        ("control", "IAM users listed"), ("control", "Made by hand"),
        ("framework", "Identity hygiene")]
    assert all(c.action in ("delete", "unchanged") for c in plan.changes)
    result = cli("apply", library, "--prune", *cli.target_args(target))
    assert result.exit_code == 0, result.output
    after = content(target)
    assert set(after["controls"]) == {"Console sign-in activity", "Access review"}
    assert set(after["frameworks"]) == {"Console access"}
    # Standard content is never pruned.
    assert target.client().list_controls(controlType="Standard", maxResults=1)["controlMetadataList"]


def test_prune_refuses_references_to_controls_outside_the_files(fresh, cli, tmp_path):
    target = fresh()
    target.client().create_control(name="Only on the target", controlMappingSources=[
        {"sourceName": "m", "sourceType": "MANUAL"}])
    library = write(tmp_path / "lib", "f.yaml", textwrap.dedent("""\
        frameworks:
          - name: Uses a target control
            controlSets:
              - name: S
                controls: [Only on the target]
        """))
    assert cli("apply", library, "--dry-run", *cli.target_args(target)).exit_code == 0
    result = cli("apply", library, "--prune", *cli.target_args(target))
    assert result.exit_code == 2, result.output
    assert f"{library}:5: frameworks[0].controlSets[0].controls[0]: no control named " \
           "'Only on the target'" in result.output
    assert "Only on the target" in content(target)["controls"]


def test_export_apply_export_round_trip(fresh, cli, tmp_path):
    one, two = fresh(), fresh()
    # A custom control named like a standard one: the export must say which one it uses.
    extra = textwrap.dedent(f"""\
        controls:
          - name: {STANDARD_D}
            description: Our own reading of root MFA.
            controlMappingSources:
              - sourceName: Root MFA
                sourceType: AWS_Config
                sourceKeyword: {{keywordValue: ROOT_ACCOUNT_MFA_ENABLED}}
          - name: "Slug: twin"
            controlMappingSources: [{{sourceName: a, sourceType: MANUAL}}]
          - name: "slug twin"
            controlMappingSources: [{{sourceName: a, sourceType: MANUAL}}]
        frameworks:
          - name: Both kinds
            controlSets:
              - name: S
                controls:
                  - {{name: {STANDARD_D}, type: Custom}}
                  - {{name: {STANDARD_D}, type: Standard}}
                  - "Slug: twin"
        """)
    write(tmp_path / "lib", "library.yaml", LIBRARY)
    write(tmp_path / "lib", "extra.yaml", extra)
    applied = cli("apply", tmp_path / "lib", *cli.target_args(one))
    assert applied.exit_code == 0, applied.output

    first, second = tmp_path / "first", tmp_path / "second"
    result = cli("export", "--out", first, "--endpoint-url", one.url, "--profile",
                 cli.profile("one", one.admin), "--region", "us-east-1")
    assert result.exit_code == 0, result.output
    files = tree(first)
    assert len([f for f in files if f.startswith("controls/")]) == 6
    assert len([f for f in files if f.startswith("frameworks/")]) == 3
    assert len({f for f in files if f.startswith("controls/slug-twin")}) == 2

    assert cli("apply", first, *cli.target_args(two)).exit_code == 0
    assert cli("export", "--out", second, "--endpoint-url", two.url, "--profile",
               cli.profile("two", two.admin), "--region", "eu-west-1").exit_code == 0
    assert tree(second) == files
    assert content(two) == content(one)
    both = yaml.safe_load((first / "frameworks" / "both-kinds.yaml").read_text())
    assert both["frameworks"][0]["controlSets"][0]["controls"] == [
        {"name": STANDARD_D, "type": "Custom"}, {"name": STANDARD_D, "type": "Standard"},
        "Slug: twin"]
    review = yaml.safe_load((first / "controls" / "access-review.yaml").read_text())
    assert review["controls"][0]["description"] == "Quarterly access review.\nUpload the signed review.\n"

    # Exporting again over an older export removes what is gone.
    one.client().delete_control(controlId=next(
        m["id"] for m in walk(one.client().list_controls, "controlMetadataList",
                              controlType="Custom") if m["name"] == "slug twin"))
    assert cli("export", "--out", first, "--endpoint-url", one.url, "--profile", "one",
               "--region", "us-east-1").exit_code == 0
    assert len(tree(first)) == len(files) - 1


# --------------------------------------------------------------------------- bad input


def test_bad_files_are_refused_with_file_line_and_field(fresh, cli, tmp_path):
    target = fresh()
    lib = tmp_path / "lib"
    write(lib, "good.yaml", LIBRARY)
    bad_yaml = write(lib, "bad.yaml", textwrap.dedent("""\
        controls:
          - name: Broken control
            controlMappingSources:
              - sourceName: Users
                sourceType: AWS_API_Call
                sourceKeyword: {keywordValue: iam_ListUser}
        frameworks:
          - name: Broken framework
            controlSets:
              - name: Set
                controls:
                  - Console sign-in activity
                  - {id: 11111111-2222-4333-8444-555555555555}
              - nmae: Typo
                controls: [Access review]
        """))
    bad_json = write(lib, "bad.json", '{\n  "controls": [\n    {\n      "name": "J",\n'
                                      '      "controlMappingSources": "MANUAL"\n    }\n  ]\n}\n')
    result = cli("apply", lib, *cli.target_args(target))
    assert result.exit_code == 2, result.output
    out = result.output
    assert "Refused, nothing was applied" in out
    assert f"{bad_yaml}:6: controls[0].controlMappingSources[0].sourceKeyword.keywordValue: " \
           "'iam_ListUser' is not a AWS_API_Call keyword" in out
    assert f"{bad_yaml}:13: frameworks[0].controlSets[0].controls[1].id: controls are " \
           "referenced by name, never by id" in out
    assert f"{bad_yaml}:14: frameworks[0].controlSets[1].nmae: unknown field" in out
    assert f"{bad_yaml}:14: frameworks[0].controlSets[1].name: required field is missing" in out
    assert f"{bad_json}:5: controls[0].controlMappingSources: 'MANUAL' is not of type 'array'" in out
    assert content(target) == {"controls": {}, "frameworks": {}}


def test_model_rules_and_missing_references_are_refused_before_applying(fresh, cli, tmp_path):
    target = fresh()
    lib = tmp_path / "lib"
    write(lib, "good.yaml", LIBRARY)
    bad = write(lib, "z.yaml", textwrap.dedent("""\
        frameworks:
          - name: Refers to nothing
            controlSets:
              - name: Has_underscore
                controls:
                  - Console sign-in activity
                  - No such control
        """))
    result = cli("apply", lib, *cli.target_args(target))
    assert result.exit_code == 2, result.output
    assert f"{bad}:4: frameworks[0].controlSets[0].name: Member must satisfy regular " \
           "expression pattern" in result.output
    assert content(target) == {"controls": {}, "frameworks": {}}

    write(lib, "z.yaml", textwrap.dedent("""\
        frameworks:
          - name: Refers to nothing
            controlSets:
              - name: Set
                controls:
                  - Console sign-in activity
                  - No such control
        """))
    result = cli("apply", lib, *cli.target_args(target))
    assert result.exit_code == 2, result.output
    assert f"{bad}:7: frameworks[0].controlSets[0].controls[1]: no control named " \
           "'No such control'" in result.output
    assert content(target) == {"controls": {}, "frameworks": {}}

    # One control listed twice, spelt two ways: refused before anything is applied (the API
    # would refuse the framework only after creating the controls before it).
    write(lib, "z.yaml", textwrap.dedent("""\
        frameworks:
          - name: Lists one twice
            controlSets:
              - name: Set
                controls:
                  - Console sign-in activity
                  - {name: Console sign-in activity, type: Custom}
        """))
    for dry_run in (["--dry-run"], []):
        result = cli("apply", lib, *cli.target_args(target), *dry_run)
        assert result.exit_code == 2, result.output
        assert f"{bad}:7: frameworks[0].controlSets[0].controls[1]: control 'Console sign-in " \
               "activity' (Custom) is listed twice in control set 'Set' (first at line 6)" \
            in result.output
        assert content(target) == {"controls": {}, "frameworks": {}}

    duplicate = write(lib, "z.yaml", "controls:\n  - name: Access review\n"
                                     "    controlMappingSources: [{sourceName: a, sourceType: MANUAL}]\n")
    result = cli("apply", lib, *cli.target_args(target))
    assert result.exit_code == 2
    assert f"{duplicate}:1: controls[0].name: control 'Access review' is already defined at " \
           f"{lib / 'good.yaml'}:" in result.output.replace(f"{duplicate}:2:", f"{duplicate}:1:")


def test_bad_options_are_bad_input(cli, server, tmp_path):
    library = write(tmp_path / "lib", "library.yaml", LIBRARY)
    result = cli("apply", library, "--endpoint-url", server.url, "--endpoint-url", server.url + "/",
                 "--profile", "a", "--profile", "b", "--profile", "c")
    assert result.exit_code == 2 and "2 endpoint URLs and 3 profiles" in result.output
    result = cli("apply", library, "--endpoint-url", server.url, "--profile", "nobody",
                 "--region", "us-east-1")
    assert result.exit_code == 2 and "nobody" in result.output
    assert cli("apply", tmp_path / "missing.yaml").exit_code == 2




# --------------------------------------------------------------------------- partial failure


def test_partial_failure_is_reported_per_target_and_a_rerun_finishes(fresh, cli, tmp_path,
                                                                     monkeypatch):
    one, two = fresh(), fresh()
    library = write(tmp_path / "lib", "library.yaml", LIBRARY)
    failures = {"left": 1}
    real_client = Target.client

    def flaky_client(target):
        client = real_client(target)
        if target.endpoint_url == two.url:
            def throttle(**_):
                if failures["left"]:
                    failures["left"] -= 1
                    return (AWSResponse(two.url, 429, {}, None),
                            {"Error": {"Code": "ThrottlingException", "Message": "Slow down"},
                             "ResponseMetadata": {"HTTPStatusCode": 429}})
            client.meta.events.register("before-call.auditmanager.CreateAssessmentFramework",
                                        throttle)
        return client

    monkeypatch.setattr(Target, "client", flaky_client)
    result = cli("apply", library, *cli.target_args(one, two))
    assert result.exit_code == 1, result.output
    out = result.output
    assert f"Applied 5 change(s) to {one.url}" in out
    assert f"Failed on {two.url}" in out and "ThrottlingException: Slow down" in out
    applied = re.search(r"applied: (.*)", out.split(f"Failed on {two.url}")[1]).group(1)
    assert applied == ("control 'Access review' (create), control 'Console sign-in activity' "
                       "(create), control 'IAM users listed' (create)")
    assert "not applied: framework 'Console access' (create), framework 'Identity hygiene' " \
           "(create)" in out
    assert set(content(two)["frameworks"]) == set()

    again = cli("apply", library, *cli.target_args(one, two))
    assert again.exit_code == 0, again.output
    assert f"Applied 0 change(s) to {one.url}" in again.output
    assert f"Applied 2 change(s) to {two.url}" in again.output
    assert content(one) == content(two)


def test_unreachable_target_fails_alone(fresh, cli, tmp_path):
    target = fresh()
    library = write(tmp_path / "lib", "library.yaml", LIBRARY)
    args = cli.target_args(target) + ["--endpoint-url", "http://127.0.0.1:9", "--profile",
                                      cli.profile("nowhere", target.admin)]
    result = cli("apply", library, *args)
    assert result.exit_code == 1, result.output
    assert "Cannot plan http://127.0.0.1:9" in result.output
    assert f"Applied 5 change(s) to {target.url}" in result.output


# --------------------------------------------------------------------------- migration


ASSESSMENTS = ["Console audit", "Identity audit"]


def stub_clients(monkeypatch, source: AssayServer, target: AssayServer,
                 target_serves_assessments: bool = True) -> None:
    """The source plays AWS: one standard control has a name Assay's library lacks, and it
    has two assessments (stubbed: the source's own assessments are not under test). The
    target may answer CreateAssessment as a server that does not serve it does."""
    real_client = Target.client

    def reply(url: str, parsed: dict, status: int = 200):
        return lambda **_: (AWSResponse(url, status, {}, None), parsed)

    def client_for(target_):
        client = real_client(target_)
        events = client.meta.events
        if target_.endpoint_url == target.url and not target_serves_assessments:
            events.register("before-call.auditmanager.CreateAssessment", reply(target.url, {
                "Error": {"Code": "ValidationException",
                          "Message": "CreateAssessment is not available in this version of Assay yet."},
                "reason": "unknownOperation", "ResponseMetadata": {"HTTPStatusCode": 400}}, 400))
        if target_.endpoint_url != source.url:
            return client

        def rename(parsed, **_):
            for control_set in parsed.get("framework", {}).get("controlSets", []):
                for control in control_set["controls"]:
                    if control["name"] == STANDARD_B:
                        control["name"] = "AWS-only standard control"

        def assessment(params, **_):
            name = ASSESSMENTS[int(params["url_path"][-1])]  # the request, serialized
            return (AWSResponse(source.url, 200, {}, None), {"assessment": {
                "metadata": {
                    "name": name, "description": "Yearly",
                    "assessmentReportsDestination": {"destinationType": "S3",
                                                     "destination": "s3://reports/console"},
                    "scope": {"awsAccounts": [{"id": target.services.account_id}]},
                    "roles": [{"roleType": "PROCESS_OWNER", "roleArn": target.admin.arn}]},
                "framework": {"metadata": {"name": "Console access"}}}})

        events.register("after-call.auditmanager.GetAssessmentFramework", rename)
        events.register("before-call.auditmanager.ListAssessments", reply(source.url, {
            "assessmentMetadata": [{"id": f"a1b2c3d4-0000-4000-8000-00000000000{i}", "name": n}
                                   for i, n in enumerate(ASSESSMENTS)]}))
        events.register("before-call.auditmanager.GetAssessment", assessment)
        return client

    monkeypatch.setattr(Target, "client", client_for)


def migrate_args(cli: Cli, source: AssayServer, target: AssayServer) -> list[str]:
    return ["migrate", "--from-endpoint-url", source.url, "--from-profile",
            cli.profile("src", source.admin), "--from-region", "us-east-1",
            "--to-endpoint-url", target.url, "--to-profile", cli.profile("dst", target.admin),
            "--assessments"]


def test_migrate_carries_everything_over_and_reports_unmapped(fresh, cli, tmp_path, monkeypatch):
    source, target = fresh(), fresh()
    library = write(tmp_path / "lib", "library.yaml", LIBRARY)
    assert cli("apply", library, *cli.target_args(source)).exit_code == 0
    stub_clients(monkeypatch, source, target)
    result = cli(*migrate_args(cli, source, target))
    out = result.output
    assert "not mapped: framework 'Console access', control set 'Reviews': standard control " \
           "'AWS-only standard control' has no standard control of that name on the target" in out
    migrated = content(target)
    expected = content(source)
    expected["frameworks"]["Console access"]["sets"][1] = ("Reviews", [("Access review", "Custom")])
    assert migrated == expected
    assert result.exit_code == 0, out
    assert "assessment Console audit: created" in out
    names = [a["name"] for a in walk(target.client().list_assessments, "assessmentMetadata")]
    assert sorted(names) == ASSESSMENTS

    again = cli(*migrate_args(cli, source, target))
    assert again.exit_code == 0, again.output
    assert "No changes (5 unchanged)." in again.output
    assert "assessment Identity audit: exists" in again.output
    assert content(target) == expected


def test_migrate_reports_each_assessment_a_target_cannot_create(fresh, cli, tmp_path, monkeypatch):
    source, target = fresh(), fresh()
    library = write(tmp_path / "lib", "library.yaml", LIBRARY)
    assert cli("apply", library, *cli.target_args(source)).exit_code == 0
    stub_clients(monkeypatch, source, target, target_serves_assessments=False)
    result = cli(*migrate_args(cli, source, target))
    assert result.exit_code == 1, result.output
    for name in ASSESSMENTS:
        assert f"assessment {name}: not available: ValidationException: CreateAssessment is " \
               "not available" in result.output
    assert set(content(target)["frameworks"]) == {"Console access", "Identity hygiene"}


# --------------------------------------------------------------------------- unique standard names


def test_standard_control_names_are_unique_through_the_api(server):
    """Every standard control name names one control (the framework's short name is in it), so
    library search and `assay apply` can tell AC-2(1) of NIST from FedRAMP's copies."""
    names = [meta["name"] for meta in walk(server.client().list_controls, "controlMetadataList",
                                           controlType="Standard")]
    assert len(names) == len(server.services.library.controls)
    assert len(set(names)) == len(names), [n for n in set(names) if names.count(n) > 1][:5]
    assert {n for n in names if n.endswith(" AC-2(1) Automated System Account Management")} == {
        "NIST 800-53 r5 AC-2(1) Automated System Account Management",
        "FedRAMP Moderate AC-2(1) Automated System Account Management",
        "FedRAMP High AC-2(1) Automated System Account Management"}


def test_apply_refuses_an_ambiguous_standard_reference_and_lists_the_candidates(fresh, cli, tmp_path):
    target = fresh()
    lib = write(tmp_path / "lib", "fw.yaml", textwrap.dedent("""\
        frameworks:
          - name: Account automation
            controlSets:
              - name: Accounts
                controls:
                  - AC-2(1) Automated System Account Management
                  - 1.5 MFA on the root user
        """))
    result = cli("apply", lib, *cli.target_args(target))
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert ("'AC-2(1) Automated System Account Management' is ambiguous: 3 standard controls "
            "on") in out
    for candidate in ("FedRAMP High AC-2(1) Automated System Account Management",
                      "FedRAMP Moderate AC-2(1) Automated System Account Management",
                      "NIST 800-53 r5 AC-2(1) Automated System Account Management"):
        assert f"'{candidate}'" in out
    # One candidate only: refused too, with the exact name to use.
    assert "did you mean 'CIS AWS v3.0.0 1.5 MFA on the root user'?" in out
    assert content(target) == {"controls": {}, "frameworks": {}}


def test_apply_refuses_a_name_several_standard_controls_share(fresh, cli, tmp_path, monkeypatch):
    """AWS Audit Manager's library repeats names; a target that answers so is refused, never
    resolved to an arbitrary one of them."""
    target = fresh()
    real_client = Target.client

    def client_for(target_):
        client = real_client(target_)

        def duplicate(parsed, **_):
            rows = parsed.get("controlMetadataList", [])
            twin = next((r for r in rows if r["name"] == STANDARD_C), None)
            if twin:
                rows.append({**twin, "id": "0f0e0d0c-0000-4000-8000-000000000001"})

        client.meta.events.register("after-call.auditmanager.ListControls", duplicate)
        return client

    monkeypatch.setattr(Target, "client", client_for)
    lib = write(tmp_path / "lib", "fw.yaml", textwrap.dedent(f"""\
        frameworks:
          - name: Root
            controlSets:
              - name: Root
                controls: [{{name: {STANDARD_C}, type: Standard}}]
        """))
    result = cli("apply", lib, *cli.target_args(target))
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert f"'{STANDARD_C}' is ambiguous: 2 standard controls on" in out
    assert "0f0e0d0c-0000-4000-8000-000000000001" in out
    assert content(target) == {"controls": {}, "frameworks": {}}

"""Signing in to the console through an OpenID Connect provider (oidc-provider-mock, started
here on 127.0.0.1) as a delegate, who then reaches its own control set and is refused another;
access keys still sign in admins, and only admins, while single sign-on is on."""

from __future__ import annotations

import threading
from urllib.parse import quote

import pytest
import werkzeug.serving
from conftest import VIEWPORT
from oidc_provider_mock import app as oidc_app
from oidc_provider_mock._storage import User
from playwright.sync_api import expect
from seed import seed
from support import AssayServer, backends

CLIENT_ID = "assay-console"


@pytest.fixture(scope="module")
def provider():
    users = [User(sub="dora-sub", claims={"email": "dora@example.com", "name": "Dora",
                                          "groups": ["it-ops"]}),
             User(sub="nobody-sub", claims={"email": "nobody@example.com",
                                            "groups": ["marketing"]})]
    server = werkzeug.serving.make_server("127.0.0.1", 0, oidc_app(user_claims=users),
                                          threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module", params=backends())
def sso_server(request, provider, tmp_path_factory):
    instance = AssayServer.start(
        tmp_path_factory.mktemp("assay-sso"), request.param, oidc_issuer=provider,
        oidc_client_id=CLIENT_ID, oidc_client_secret="not-checked-by-the-mock",
        oidc_roles="assay-admins=admin, grc=process-owner, it-ops=delegate, audit=auditor")
    yield instance
    instance.stop()


@pytest.fixture
def sso_page(chromium, sso_server):
    context = chromium.new_context(viewport=VIEWPORT, base_url=sso_server.url)
    context.set_default_timeout(15000)
    # The mock provider's pages style themselves from a CDN: nothing may leave the machine.
    context.route("https://**/*", lambda route: route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, errors


@pytest.fixture
def shot(shots, sso_server):
    def take(page, name: str) -> None:
        page.screenshot(path=str(shots / f"{sso_server.backend}-{name}.png"), full_page=True)
    return take


def test_a_delegate_signs_in_with_sso_and_is_refused_another_control_set(
        sso_server, sso_page, shot):
    world = seed(sso_server)
    page = sso_page
    # The delegation names dora's principal ARN, as the claim mapping resolves it.
    dora_arn = sso_server.services.keys.arn_for("dora")
    sso_server.services.keys.create("dora", "delegate")  # so the delegation may name it
    owner = sso_server.client(world.owner, strict=False)
    owner.batch_create_delegation_by_assessment(
        assessmentId=world.assessment_id, createDelegationRequests=[
            {"controlSetId": world.delegated_set, "roleArn": dora_arn,
             "roleType": "RESOURCE_OWNER"}])

    page.goto("/console/assessments")
    shot(page, "sign-in-sso")
    page.get_by_role("link", name="Sign in with SSO").click()
    page.get_by_role("button", name="dora-sub").click()  # the provider's sign-in page
    expect(page.get_by_role("heading", level=1)).to_have_text("Assessments")
    expect(page.locator("header")).to_contain_text("dora")
    page.get_by_role("link", name="FY26 CIS AWS review").first.click()
    expect(page.get_by_role("heading", name=world.delegated_set)).to_be_visible()
    expect(page.get_by_role("heading", name=world.other_set)).to_have_count(0)
    page.goto(f"/console/assessments/{world.assessment_id}/controls/{world.control['id']}"
              f"?set={quote(world.delegated_set, safe='')}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(world.control["name"])
    shot(page, "sso-delegate-control")
    answer = page.goto(f"/console/assessments/{world.assessment_id}/controls/"
                       f"{world.other_control['id']}?set={quote(world.other_set, safe='')}")
    assert answer.status == 403
    expect(page.locator("main")).to_contain_text("is not delegated to")
    # Sessions and CSRF work as for keys: signing out ends it.
    page.goto("/console/inbox")
    page.get_by_role("button", name="Sign out").click()
    page.goto("/console/assessments")
    assert "/console/sign-in" in page.url

    # Someone in no mapped group gets no role, and no session.
    page.get_by_role("link", name="Sign in with SSO").click()
    page.get_by_role("button", name="nobody-sub").click()
    expect(page.get_by_role("status")).to_contain_text("no group that has an Assay role")
    assert "/console/sign-in" in page.url

    # Access keys remain the admins' fallback, and only theirs.
    page.get_by_label("Access key ID").fill(world.delegate.key_id)
    page.get_by_label("Secret access key").fill(world.delegate.secret)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("only for admins")
    page.get_by_label("Access key ID").fill(sso_server.admin.key_id)
    page.get_by_label("Secret access key").fill(sso_server.admin.secret)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Assessments")


def test_a_forged_sso_answer_is_refused(sso_server, sso_page):
    page = sso_page
    page.goto("/console/sso/callback?code=forged&state=forged")
    assert "/console/sign-in" in page.url
    expect(page.get_by_role("status")).to_contain_text("did not match a sign-in started here")

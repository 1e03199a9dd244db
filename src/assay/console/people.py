"""The inbox (delegations and notifications), settings, and access keys."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from ..api.wire import check_input
from ..service.auth import MANAGE_KEYS, ROLES, WRITE_SETTINGS
from ..service.errors import ValidationError
from .web import Console, Context, one, url

PAGE = 20


def inbox_page(ctx: Context) -> Response:
    services, caller = ctx.services, ctx.caller
    delegations, delegations_next = services.review.list_delegations(
        caller, ctx.arg("dnext"), PAGE)
    notifications, notifications_next = services.notifier.list_for(caller, ctx.arg("nnext"), PAGE)
    return ctx.render("inbox.html", nav="inbox", delegations=delegations,
                      assignments=services.worklist.assignments(caller, mine=True),
                      approvals=services.worklist.exceptions(caller, to_decide=True),
                      expiring=services.posture.expiring_evidence(caller),
                      delegations_next=delegations_next, notifications=notifications,
                      notifications_next=notifications_next, dnext=ctx.arg("dnext"),
                      nnext=ctx.arg("nnext"))


def settings_page(ctx: Context, created=None) -> Response:
    services, caller = ctx.services, ctx.caller
    settings = services.account.get_settings(caller, "ALL")
    keys = services.keys.list(caller) if caller.can(MANAGE_KEYS) else None
    return ctx.render("settings.html", nav="settings", settings=settings, keys=keys,
                      roles=ROLES, created=created, editable=caller.can(WRITE_SETTINGS),
                      account_status=services.account.get_status(caller),
                      public_key=services.signer.public_pem, key_id=services.signer.key_id,
                      account_id=services.account_id)


def update_settings(ctx: Context, form: dict) -> Response:
    """The settings form: the same UpdateSettings the API serves, validated by the same model."""
    # Each owner is a principal ARN, or the name of a key standing for its principal.
    owners = [name for name in one(form, "process_owners").replace(",", " ").split()]
    arns = {k.name: k.arn for k in ctx.services.keys.list(ctx.caller)}
    arns.update({name: name for name in owners if name.startswith("arn:")})
    unknown = [name for name in owners if name not in arns]
    if unknown:
        raise ValidationError.field("defaultProcessOwners", f"No key named {', '.join(unknown)}.")
    destination = one(form, "reports_destination").strip()
    params = {
        "snsTopic": one(form, "sns_topic").strip() or "NONE",
        "defaultAssessmentReportsDestination":
            {"destinationType": "S3", "destination": destination} if destination else {},
        "defaultProcessOwners": [{"roleType": "PROCESS_OWNER", "roleArn": arns[name]}
                                 for name in owners],
        "kmsKey": one(form, "kms_key").strip() or "DEFAULT",
        "deregistrationPolicy": {"deleteResources": one(form, "delete_resources", "DEFAULT")},
    }
    check_input("UpdateSettings", params)
    ctx.services.account.update_settings(ctx.caller, params)
    return ctx.redirect(url("settings"), "Settings saved.")


def create_key(ctx: Context, form: dict) -> Response:
    name, role, arn = one(form, "name"), one(form, "role"), one(form, "arn")
    if role not in ROLES:
        raise ValidationError.field("role", f"Pick one of {', '.join(ROLES)}.")
    created = ctx.services.keys.create(name or None, role, ctx.caller, arn=arn or None)
    # The secret is shown on this response only: never stored in clear, never redirected with.
    return settings_page(ctx, created=created)


def revoke_key(ctx: Context, form: dict) -> Response:
    key = ctx.services.keys.revoke(one(form, "key_id"), ctx.caller)
    return ctx.redirect(url("settings") + "#keys", f"Key {key.name} ({key.access_key_id}) is "
                                                   "revoked: it no longer signs anything.")


def routes(console: Console) -> list[Route]:
    view, action = console.view, console.action
    return [
        Route("/inbox", view(inbox_page)),
        Route("/settings", view(settings_page, needs_active_account=False)),
        Route("/settings", action(update_settings, needs_active_account=False), methods=["POST"]),
        Route("/settings/keys", action(create_key, needs_active_account=False), methods=["POST"]),
        Route("/settings/keys/revoke", action(revoke_key, needs_active_account=False),
              methods=["POST"]),
    ]

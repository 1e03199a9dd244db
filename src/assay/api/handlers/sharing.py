"""Framework sharing operations, and the internal endpoint peers deliver shares over.

The internal endpoint is not part of Audit Manager's API: another Assay instance calls it,
signing with SigV4 with a key this instance issued to it (``assay peers add`` on the other
side). POST /_assay/shares delivers a share; PUT /_assay/shares/{id} tells the other side an
answer (SHARED, DECLINED, REVOKED), ``id`` being the sender's request id."""

from __future__ import annotations

import uuid

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...service.errors import ValidationError
from .. import bodies, wire
from ..authn import authenticate, credential
from ..responses import answer
from . import operation

MAX_SHARE_BODY = 10 * 1024 * 1024


@operation("StartAssessmentFrameworkShare")
def start_share(svc, caller, p):
    return {"assessmentFrameworkShareRequest": svc.sharing.start(
        caller, p["frameworkId"], p["destinationAccount"], p["destinationRegion"], p.get("comment"))}


@operation("ListAssessmentFrameworkShareRequests")
def list_shares(svc, caller, p):
    items, token = svc.sharing.list(caller, p["requestType"], p.get("nextToken"),
                                    p.get("maxResults"))
    return {"assessmentFrameworkShareRequests": items, "nextToken": token}


@operation("UpdateAssessmentFrameworkShare")
def update_share(svc, caller, p):
    return {"assessmentFrameworkShareRequest": svc.sharing.update(
        caller, p["requestId"], p["requestType"], p["action"])}


@operation("DeleteAssessmentFrameworkShare")
def delete_share(svc, caller, p):
    svc.sharing.delete(caller, p["requestId"], p["requestType"])
    return {}


# --------------------------------------------------------------------------- internal endpoint


def sharing_routes(services) -> list[BaseRoute]:
    """Routes for ``create_app(services, extra_routes=...)``."""

    async def deliver(request: Request) -> Response:
        async def handle(caller, document):
            share = document.get("request")
            problems: list[dict] = []
            if not isinstance(share, dict) or not isinstance(document.get("payload"), dict):
                raise ValidationError("A delivery is {request, payload}.", reason="cannotParse")
            # The share is the sender's AssessmentFrameworkShareRequest: the model checks it.
            wire.validate(_share_shape(), share, "request", problems)
            for required in ("id", "frameworkId", "frameworkName", "sourceAccount",
                             "destinationAccount", "destinationRegion", "expirationTime",
                             "creationTime", "lastUpdated"):
                if share.get(required) is None:
                    problems.append({"name": f"request.{required}", "message": "Member must not be null."})
            _check_payload(document["payload"], problems)
            if problems:
                raise ValidationError.for_fields(problems)
            return await run_in_threadpool(services.sharing.receive, caller, share,
                                           document["payload"])
        return await _internal(services, request, handle)

    async def answer(request: Request) -> Response:
        sent_id = request.path_params["request_id"]

        async def handle(caller, document):
            try:
                uuid.UUID(sent_id)
            except ValueError:
                raise ValidationError.field("requestId", "A share request id is a UUID.")
            status = document.get("status")
            if not isinstance(status, str):
                raise ValidationError.field("status", "Member must be a string.")
            return await run_in_threadpool(services.sharing.told, caller, sent_id, status)
        return await _internal(services, request, handle)

    return [Route("/_assay/shares", deliver, methods=["POST"]),
            Route("/_assay/shares/{request_id}", answer, methods=["PUT"])]


def _check_payload(payload: dict, problems: list[dict]) -> None:
    """A delivery's payload is what ``SharingService`` sends: ``controlSets`` (each a name and
    its controls' ids and types) and ``controls`` (each custom control's id and CreateControl
    input). Anything else would be stored and only fail when the recipient accepts it."""
    def fail(name: str, message: str) -> None:
        problems.append({"name": f"payload.{name}", "message": message})

    for name in sorted(set(payload) - {"controlSets", "controls"}):
        fail(name, "Unknown parameter.")
    controls = payload.get("controls")
    custom_ids: set[str] = set()
    if not isinstance(controls, list):
        fail("controls", "Member must be a list.")
    else:
        create_control = wire.service_model().operation_model("CreateControl").input_shape
        for index, control in enumerate(controls):
            if not isinstance(control, dict) or not isinstance(control.get("id"), str):
                fail(f"controls[{index}]", "A shared control is an object with an id.")
                continue
            custom_ids.add(control["id"])
            definition = {k: v for k, v in control.items() if k != "id"}
            wire.validate(create_control, definition, f"payload.controls[{index}]", problems)
    control_sets = payload.get("controlSets")
    if not isinstance(control_sets, list) or not control_sets:
        fail("controlSets", "A shared framework has at least one control set.")
        return
    for index, control_set in enumerate(control_sets):
        where = f"controlSets[{index}]"
        if not isinstance(control_set, dict) or not isinstance(control_set.get("name"), str) \
                or not control_set["name"] or not isinstance(control_set.get("controls"), list) \
                or not control_set["controls"]:
            fail(where, "A control set has a name and at least one control.")
            continue
        for position, control in enumerate(control_set["controls"]):
            if not isinstance(control, dict) or not isinstance(control.get("id"), str) \
                    or control.get("type") not in ("Standard", "Custom"):
                fail(f"{where}.controls[{position}]", "A control is {id, type: Standard|Custom}.")
            elif control["type"] == "Custom" and control["id"] not in custom_ids:
                fail(f"{where}.controls[{position}]",
                     f"Custom control {control['id']} is not in payload.controls.")


def _share_shape():
    return wire.service_model().shape_for("AssessmentFrameworkShareRequest")


async def _internal(services, request: Request, handle) -> Response:
    """Authenticate (SigV4, the instance's own keys), parse JSON, run, answer in Audit
    Manager's error format so the peer reads failures like any other."""
    async def produce() -> tuple[int, bytes]:
        # The headers' credential first: nothing of the body is read for an unknown caller.
        bodies.refuse_declared(request, MAX_SHARE_BODY)
        claimed = await run_in_threadpool(credential, services, request)
        body = await bodies.read(request, MAX_SHARE_BODY)
        raw_path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
        caller = await run_in_threadpool(authenticate, services, request, raw_path, body, claimed)
        await run_in_threadpool(services.account.require_active)
        try:
            document = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError as exc:
            raise ValidationError(f"The request body is not valid JSON: {exc}", reason="cannotParse")
        if not isinstance(document, dict):
            raise ValidationError("The request body must be a JSON object.", reason="cannotParse")
        return 200, orjson.dumps(await handle(caller, document))

    return await answer(request, produce)

from . import operation


@operation("UpdateAssessmentControl")
def update_control(svc, caller, p):
    return {"control": svc.review.update_control(
        caller, p["assessmentId"], p["controlSetId"], p["controlId"], p.get("controlStatus"),
        p.get("commentBody"))}


@operation("UpdateAssessmentControlSetStatus")
def update_control_set_status(svc, caller, p):
    return {"controlSet": svc.review.update_control_set_status(
        caller, p["assessmentId"], p["controlSetId"], p["status"], p["comment"])}


@operation("BatchCreateDelegationByAssessment")
def create_delegations(svc, caller, p):
    delegations, errors = svc.review.create_delegations(caller, p["assessmentId"],
                                                        p["createDelegationRequests"])
    return {"delegations": delegations, "errors": errors}


@operation("BatchDeleteDelegationByAssessment")
def delete_delegations(svc, caller, p):
    return {"errors": svc.review.delete_delegations(caller, p["assessmentId"], p["delegationIds"])}


@operation("GetDelegations")
def get_delegations(svc, caller, p):
    items, token = svc.review.list_delegations(caller, p.get("nextToken"), p.get("maxResults"))
    return {"delegations": items, "nextToken": token}


@operation("GetChangeLogs")
def get_change_logs(svc, caller, p):
    items, token = svc.review.change_logs(caller, p["assessmentId"], p.get("controlSetId"),
                                          p.get("controlId"), p.get("nextToken"),
                                          p.get("maxResults"))
    return {"changeLogs": items, "nextToken": token}


@operation("ListNotifications")
def list_notifications(svc, caller, p):
    items, token = svc.notifier.list_for(caller, p.get("nextToken"), p.get("maxResults"))
    return {"notifications": items, "nextToken": token}

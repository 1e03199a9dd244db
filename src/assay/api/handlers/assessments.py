from . import operation


@operation("CreateAssessment")
def create_assessment(svc, caller, p):
    return {"assessment": svc.assessments.create(caller, p)["assessment"]}


@operation("GetAssessment", store_read=True)
def get_assessment(svc, caller, p):
    return svc.assessments.get(caller, p["assessmentId"])


@operation("ListAssessments", store_read=True)
def list_assessments(svc, caller, p):
    items, token = svc.assessments.list(caller, p.get("status"), p.get("nextToken"),
                                        p.get("maxResults"))
    return {"assessmentMetadata": items, "nextToken": token}


@operation("UpdateAssessment")
def update_assessment(svc, caller, p):
    return {"assessment": svc.assessments.update(caller, p["assessmentId"], p)["assessment"]}


@operation("UpdateAssessmentStatus")
def update_assessment_status(svc, caller, p):
    return {"assessment": svc.assessments.update_status(caller, p["assessmentId"],
                                                        p["status"])["assessment"]}


@operation("DeleteAssessment")
def delete_assessment(svc, caller, p):
    svc.assessments.delete(caller, p["assessmentId"])
    return {}

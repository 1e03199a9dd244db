from . import operation


@operation("CreateAssessmentFramework")
def create_framework(svc, caller, p):
    return {"framework": svc.frameworks.create(caller, p)}


@operation("GetAssessmentFramework", store_read=True)
def get_framework(svc, caller, p):
    return {"framework": svc.frameworks.get(caller, p["frameworkId"])}


@operation("UpdateAssessmentFramework")
def update_framework(svc, caller, p):
    return {"framework": svc.frameworks.update(caller, p["frameworkId"], p)}


@operation("DeleteAssessmentFramework")
def delete_framework(svc, caller, p):
    svc.frameworks.delete(caller, p["frameworkId"])
    return {}


@operation("ListAssessmentFrameworks", store_read=True)
def list_frameworks(svc, caller, p):
    items, token = svc.frameworks.list(caller, p["frameworkType"], p.get("nextToken"),
                                       p.get("maxResults"))
    return {"frameworkMetadataList": items, "nextToken": token}

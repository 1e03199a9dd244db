"""Assessment report operations."""

from . import operation


@operation("CreateAssessmentReport")
def create_report(svc, caller, p):
    return {"assessmentReport": svc.reports.create(caller, p)}


@operation("ListAssessmentReports")
def list_reports(svc, caller, p):
    items, token = svc.reports.list(caller, p.get("nextToken"), p.get("maxResults"))
    return {"assessmentReports": items, "nextToken": token}


@operation("DeleteAssessmentReport")
def delete_report(svc, caller, p):
    svc.reports.delete(caller, p["assessmentId"], p["assessmentReportId"])
    return {}


@operation("GetAssessmentReportUrl")
def report_url(svc, caller, p):
    return {"preSignedUrl": svc.reports.url(caller, p["assessmentId"], p["assessmentReportId"])}


@operation("ValidateAssessmentReportIntegrity")
def validate_report(svc, caller, p):
    return svc.reports.validate(caller, p["s3RelativePath"])

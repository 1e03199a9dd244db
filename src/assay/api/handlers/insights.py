from . import operation


@operation("GetInsights")
def get_insights(svc, caller, p):
    return {"insights": svc.insights.insights(caller)}


@operation("GetInsightsByAssessment")
def get_insights_by_assessment(svc, caller, p):
    return {"insights": svc.insights.insights_by_assessment(caller, p["assessmentId"])}


@operation("ListControlDomainInsights")
def domain_insights(svc, caller, p):
    items, token = svc.insights.domains(caller, None, p.get("nextToken"), p.get("maxResults"))
    return {"controlDomainInsights": items, "nextToken": token}


@operation("ListControlDomainInsightsByAssessment")
def domain_insights_by_assessment(svc, caller, p):
    items, token = svc.insights.domains(caller, p["assessmentId"], p.get("nextToken"),
                                        p.get("maxResults"))
    return {"controlDomainInsights": items, "nextToken": token}


@operation("ListControlInsightsByControlDomain")
def control_insights(svc, caller, p):
    items, token = svc.insights.controls_in_domain(caller, p["controlDomainId"], None,
                                                   p.get("nextToken"), p.get("maxResults"))
    return {"controlInsightsMetadata": items, "nextToken": token}


@operation("ListAssessmentControlInsightsByControlDomain")
def assessment_control_insights(svc, caller, p):
    items, token = svc.insights.controls_in_domain(caller, p["controlDomainId"], p["assessmentId"],
                                                   p.get("nextToken"), p.get("maxResults"))
    return {"controlInsightsByAssessment": items, "nextToken": token}

from . import operation


@operation("GetEvidenceFoldersByAssessment", store_read=True)
def folders_by_assessment(svc, caller, p):
    items, token = svc.evidence.folders_by_assessment(caller, p["assessmentId"],
                                                      p.get("nextToken"), p.get("maxResults"))
    return {"evidenceFolders": items, "nextToken": token}


@operation("GetEvidenceFoldersByAssessmentControl", store_read=True)
def folders_by_control(svc, caller, p):
    items, token = svc.evidence.folders_by_control(caller, p["assessmentId"], p["controlSetId"],
                                                   p["controlId"], p.get("nextToken"),
                                                   p.get("maxResults"))
    return {"evidenceFolders": items, "nextToken": token}


@operation("GetEvidenceFolder", store_read=True)
def get_folder(svc, caller, p):
    return {"evidenceFolder": svc.evidence.folder(caller, p["assessmentId"], p["controlSetId"],
                                                  p["evidenceFolderId"])}


@operation("GetEvidenceByEvidenceFolder", store_read=True)
def evidence_in_folder(svc, caller, p):
    items, token = svc.evidence.evidence_in_folder(caller, p["assessmentId"], p["controlSetId"],
                                                   p["evidenceFolderId"], p.get("nextToken"),
                                                   p.get("maxResults"))
    return {"evidence": items, "nextToken": token}


@operation("GetEvidence", store_read=True)
def get_evidence(svc, caller, p):
    return {"evidence": svc.evidence.evidence(caller, p["assessmentId"], p["controlSetId"],
                                              p["evidenceFolderId"], p["evidenceId"])}


@operation("BatchAssociateAssessmentReportEvidence")
def associate_evidence(svc, caller, p):
    done, errors = svc.evidence.select_for_report(caller, p["assessmentId"], p["evidenceFolderId"],
                                                  p["evidenceIds"], True)
    return {"evidenceIds": done, "errors": errors}


@operation("BatchDisassociateAssessmentReportEvidence")
def disassociate_evidence(svc, caller, p):
    done, errors = svc.evidence.select_for_report(caller, p["assessmentId"], p["evidenceFolderId"],
                                                  p["evidenceIds"], False)
    return {"evidenceIds": done, "errors": errors}


@operation("AssociateAssessmentReportEvidenceFolder")
def associate_folder(svc, caller, p):
    svc.evidence.select_for_report(caller, p["assessmentId"], p["evidenceFolderId"], None, True)
    return {}


@operation("DisassociateAssessmentReportEvidenceFolder")
def disassociate_folder(svc, caller, p):
    svc.evidence.select_for_report(caller, p["assessmentId"], p["evidenceFolderId"], None, False)
    return {}


@operation("GetEvidenceFileUploadUrl")
def upload_url(svc, caller, p):
    return svc.evidence.upload_url(caller, p["fileName"])


@operation("BatchImportEvidenceToAssessmentControl")
def import_evidence(svc, caller, p):
    return {"errors": svc.evidence.import_manual(caller, p["assessmentId"], p["controlSetId"],
                                                 p["controlId"], p["manualEvidence"])}

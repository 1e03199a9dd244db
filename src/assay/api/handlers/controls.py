from . import operation


@operation("CreateControl")
def create_control(svc, caller, p):
    return {"control": svc.controls.create(caller, p)}


@operation("GetControl", store_read=True)
def get_control(svc, caller, p):
    # equivalentControls is Assay's own member (wire.ASSAY_MEMBERS): SDKs ignore it.
    return {"control": svc.controls.get(caller, p["controlId"]),
            "equivalentControls": svc.controls.equivalents(caller, p["controlId"])}


@operation("UpdateControl")
def update_control(svc, caller, p):
    return {"control": svc.controls.update(caller, p["controlId"], p)}


@operation("DeleteControl")
def delete_control(svc, caller, p):
    svc.controls.delete(caller, p["controlId"])
    return {}


@operation("ListControls", store_read=True)
def list_controls(svc, caller, p):
    items, token = svc.controls.list(caller, p["controlType"], p.get("controlCatalogId"),
                                     p.get("nextToken"), p.get("maxResults"))
    return {"controlMetadataList": items, "nextToken": token}

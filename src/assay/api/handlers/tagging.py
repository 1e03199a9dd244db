from . import operation


@operation("ListTagsForResource", store_read=True)
def list_tags(svc, caller, p):
    return {"tags": svc.tags.list_for(caller, p["resourceArn"])}


@operation("TagResource")
def tag_resource(svc, caller, p):
    svc.tags.tag(caller, p["resourceArn"], p["tags"])
    return {}


@operation("UntagResource")
def untag_resource(svc, caller, p):
    svc.tags.untag(caller, p["resourceArn"], p["tagKeys"])
    return {}

from . import operation


@operation("GetAccountStatus")
def get_account_status(svc, caller, p):
    return {"status": svc.account.get_status(caller)}


@operation("RegisterAccount")
def register_account(svc, caller, p):
    return {"status": svc.account.register(caller, p.get("kmsKey"), p.get("delegatedAdminAccount"))}


@operation("DeregisterAccount")
def deregister_account(svc, caller, p):
    return {"status": svc.account.deregister(caller)}


@operation("RegisterOrganizationAdminAccount")
def register_admin(svc, caller, p):
    return svc.account.register_admin(caller, p["adminAccountId"])


@operation("GetOrganizationAdminAccount")
def get_admin(svc, caller, p):
    return svc.account.get_admin(caller)


@operation("DeregisterOrganizationAdminAccount")
def deregister_admin(svc, caller, p):
    svc.account.deregister_admin(caller, p.get("adminAccountId"))
    return {}


@operation("GetSettings")
def get_settings(svc, caller, p):
    return {"settings": svc.account.get_settings(caller, p["attribute"])}


@operation("UpdateSettings")
def update_settings(svc, caller, p):
    return {"settings": svc.account.update_settings(caller, p)}


@operation("ListKeywordsForDataSource")
def list_keywords(svc, caller, p):
    items, token = svc.account.keywords(caller, p["source"], p.get("nextToken"),
                                        p.get("maxResults"))
    return {"keywords": items, "nextToken": token}


@operation("GetServicesInScope")
def services_in_scope(svc, caller, p):
    return {"serviceMetadata": svc.account.services(caller)}

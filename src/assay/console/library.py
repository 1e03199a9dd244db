"""The library: frameworks and controls, searchable by name and keyword, with each control's
evidence sources."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from ..model.controls import SOURCE_DISPLAY_NAMES
from ..service import paging
from .web import Console, Context

PAGE = 50
TYPES = ("Standard", "Custom")


def frameworks_page(ctx: Context) -> Response:
    kind = ctx.arg("type") if ctx.arg("type") in TYPES else "Standard"
    items, next_token = ctx.services.frameworks.list(ctx.caller, kind, ctx.arg("next"), PAGE)
    return ctx.render("library.html", nav="library", kind=kind, frameworks=items,
                      next_token=next_token, first=not ctx.arg("next"),
                      domains=_domains(ctx))


def framework_page(ctx: Context) -> Response:
    framework = ctx.services.frameworks.get(ctx.caller, ctx.path("fid"))
    return ctx.render("framework.html", nav="library", framework=framework,
                      collapse=sum(len(s["controls"]) for s in framework["controlSets"]) > 120)


def _domains(ctx: Context) -> list:
    return sorted(ctx.services.library.domains.values(), key=lambda d: d.name)


def _matches(query: str, control: dict) -> bool:
    words = query.lower().split()
    haystack = " ".join([control["name"], control.get("description") or ""] + [
        (s.get("sourceKeyword") or {}).get("keywordValue", "") + " " + s.get("sourceName", "")
        for s in control.get("controlMappingSources") or []]).lower()
    return all(word in haystack for word in words)


def controls_page(ctx: Context) -> Response:
    services, caller = ctx.services, ctx.caller
    kind = ctx.arg("type") if ctx.arg("type") in TYPES else "Standard"
    query = (ctx.arg("q") or "").strip()[:200]
    domain = ctx.arg("domain") or None
    source = ctx.arg("source") if ctx.arg("source") in SOURCE_DISPLAY_NAMES else None
    # The service lists (and authorizes); the full controls come from the same service.
    listed, _ = services.controls.list(caller, kind, domain, None, 100000)
    found = []
    if kind == "Standard":
        library = services.library.controls
        for item in listed:
            standard = library[item["id"]]
            control = {"id": item["id"], "name": item["name"],
                       "description": standard.description,
                       "controlSources": item["controlSources"],
                       "controlMappingSources": standard.mapping_sources,
                       "domain": standard.domain_id}
            found.append(control)
    else:
        for item in listed:
            control = services.controls.get(caller, item["id"])
            control["domain"] = None
            found.append(control)
    if query:
        found = [c for c in found if _matches(query, c)]
    if source:
        found = [c for c in found if any(s.get("sourceType") == source
                                         for s in c["controlMappingSources"])]
    scope = f"console-controls:{kind}:{domain}:{query}:{source}"
    page, next_token = paging.page(found, ctx.arg("next"), PAGE, scope)
    domains = {d.id: d.name for d in services.library.domains.values()}
    return ctx.render("controls.html", nav="library", kind=kind, query=query, domain=domain,
                      source=source, sources=SOURCE_DISPLAY_NAMES, controls=page,
                      total=len(found), next_token=next_token, first=not ctx.arg("next"),
                      domains=_domains(ctx), domain_names=domains)


def control_page(ctx: Context) -> Response:
    services = ctx.services
    control = services.controls.get(ctx.caller, ctx.path("cid"))
    standard = services.library.controls.get(control["id"])
    domain = services.library.domains.get(standard.domain_id) if standard else None
    frameworks = services.library.frameworks_of(control["id"]) if standard else []
    history = [] if standard else services.controls.history(ctx.caller, control["id"])
    equivalents = services.controls.equivalents(ctx.caller, control["id"])
    return ctx.render("library_control.html", nav="library", control=control, domain=domain,
                      frameworks=frameworks, sources=SOURCE_DISPLAY_NAMES,
                      key=standard.key if standard else None, history=history,
                      corrections=[h for h in history if h["action"] == "KEYWORD_CORRECTED"],
                      equivalents=equivalents)


def routes(console: Console) -> list[Route]:
    view = console.view
    return [
        Route("/library", view(frameworks_page)),
        Route("/library/frameworks/{fid}", view(framework_page)),
        Route("/library/controls", view(controls_page)),
        Route("/library/controls/{cid}", view(control_page)),
    ]

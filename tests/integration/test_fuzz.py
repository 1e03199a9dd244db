"""Model-driven fuzzing: signed requests to every operation of the Audit Manager model, with
inputs drawn from each operation's input shape (botocore's model) and laced with what breaks
servers: nulls in lists and maps, NUL bytes, wrong types, numbers past 64 bits, huge and empty
strings, repeated ids, unknown members, ids of real resources. No answer may be a 5xx.

Seeded and bounded: ``ASSAY_FUZZ_REQUESTS`` requests per backend (2,000 by default, in
``make test``; ``make fuzz`` runs more), ``ASSAY_FUZZ_SEED`` picks the sequence. The counts go
to test-artifacts/fuzz-<backend>.json."""

from __future__ import annotations

import json
import os
import random
from urllib.parse import quote

import httpx
import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from assay.api import wire

from support import small_assessment, walk

REQUESTS = int(os.environ.get("ASSAY_FUZZ_REQUESTS", "2000"))
SEED = int(os.environ.get("ASSAY_FUZZ_SEED", "18"))
# Text that has broken servers: NUL, markup, surrogate-free astral characters, control
# characters, path tricks, SQL.
NASTY_TEXT = ["\x00", "a\x00b", "<b>x</b>", "🙂" * 3, "\t\r\n", "../../etc/passwd", "' OR 1=1 --",
              "%00", "null", " ", "ä" * 300, "x" * 5000]
NASTY_VALUES = [None, 0, -1, 2 ** 70, -(2 ** 70), True, 1.5, [], {}, [None], {"k": None}, ""]


def _ops() -> list[str]:
    return sorted(wire.service_model().operation_names)


class Pool:
    """Ids of real resources, so that fuzzed requests reach past 'not found'."""

    def __init__(self, server):
        admin = server.client()
        made = small_assessment(server, "fz")
        control, framework, assessment = made["control"], made["framework"], made["assessment"]
        aid = assessment["metadata"]["id"]
        admin.batch_import_evidence_to_assessment_control(
            assessmentId=aid, controlSetId="Set", controlId=control["id"],
            manualEvidence=[{"textResponse": "fuzz evidence"}])
        folders = admin.get_evidence_folders_by_assessment_control(
            assessmentId=aid, controlSetId="Set", controlId=control["id"])["evidenceFolders"]
        evidence = [e["id"] for f in folders for e in admin.get_evidence_by_evidence_folder(
            assessmentId=aid, controlSetId="Set", evidenceFolderId=f["id"])["evidence"]]
        standard = walk(admin.list_assessment_frameworks, "frameworkMetadataList",
                        frameworkType="Standard")[:1]
        self.ids = [aid, framework["id"], control["id"], "Set", *[f["id"] for f in folders],
                    *evidence, *[f["id"] for f in standard], server.admin.arn,
                    assessment["arn"], framework["arn"], control["arn"], "111122223333",
                    "us-east-1"]
        # By member name: the resource a member of that name points at, so that a request
        # gets past "not found" to the code that uses what it was given.
        frameworks = [framework["id"], *[f["id"] for f in standard]]
        self.named = {
            "assessmentId": [aid], "frameworkId": frameworks, "controlId": [control["id"]],
            "controlSetId": ["Set"], "evidenceFolderId": [f["id"] for f in folders],
            "evidenceId": evidence, "evidenceIds": evidence, "roleArn": [server.admin.arn],
            "resourceArn": [assessment["arn"], framework["arn"], control["arn"]],
            "id": ["111122223333", control["id"]], "awsAccountId": ["111122223333"],
            "destinationAccount": ["111122223333"], "destinationRegion": ["us-east-1"],
            "adminAccountId": ["111122223333"], "sourceName": ["m"],
        }


def _clean_text(shape, pool: Pool) -> st.SearchStrategy:
    """Text the model allows: an enum value, a real id, or text matching the pattern."""
    if shape.enum:
        return st.sampled_from(shape.enum)
    meta = shape.metadata
    low, high = meta.get("min", 1), min(meta.get("max", 40), 40)
    pattern = meta.get("pattern")
    if not pattern:
        return st.one_of(st.sampled_from(pool.ids), st.text(
            alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=max(low, 1),
            max_size=max(high, low, 1)))
    compiled = wire._pattern(pattern)
    fits = [i for i in pool.ids if compiled.search(i) and low <= len(i) <= meta.get("max", 9999)]
    options = [st.sampled_from(fits)] * 9 if fits else []  # mostly real resources
    generated = _from_pattern(pattern, low, meta.get("max", 9999))
    if generated is not None:
        options.append(generated)
    return st.one_of(*options) if options else st.sampled_from(pool.ids)


_FROM_PATTERN: dict[tuple[str, int, int], st.SearchStrategy | None] = {}


def _from_pattern(pattern: str, low: int, high: int) -> st.SearchStrategy | None:
    """Text matching the model's ``pattern``, ``low`` to ``high`` characters long; None where
    the pattern has a Java construct Python's regex engine cannot generate from.

    One strategy per (pattern, bounds) for the whole module, shared by every member, operation
    and backend: hypothesis analyses a regex strategy on its first draw, a few seconds of CPU
    when each had its own. The values drawn are the same (same seed, same statuses)."""
    key = (pattern, low, high)
    if key not in _FROM_PATTERN:
        try:
            _FROM_PATTERN[key] = st.from_regex(wire._pattern(pattern), fullmatch=True).filter(
                lambda t: low <= len(t) <= high)
        except Exception:
            _FROM_PATTERN[key] = None
    return _FROM_PATTERN[key]


def _nasty_text(shape) -> st.SearchStrategy:
    options = [st.sampled_from(NASTY_TEXT), st.text(max_size=40)]
    if shape.enum:
        options.insert(0, st.sampled_from(shape.enum))
    return st.one_of(*options)


def value_for(shape, pool: Pool, hostile: bool, depth: int = 0,
              name: str = "") -> st.SearchStrategy:
    """Model-shaped values; when ``hostile``, sometimes a hostile one in place of any."""
    kind = shape.type_name
    meta = shape.metadata
    if depth > 6:
        return st.none()
    if kind == "string":
        base = _clean_text(shape, pool)
        if pool.named.get(name):
            base = st.one_of(*[st.sampled_from(pool.named[name])] * 4, base)
        if hostile:
            base = st.one_of(base, _nasty_text(shape))
    elif kind in ("integer", "long"):
        base = st.integers(meta.get("min", 1), min(meta.get("max", 100), 1000))
        if hostile:
            base = st.one_of(base, st.integers(-(2 ** 80), 2 ** 80))
    elif kind == "boolean":
        base = st.booleans()
    elif kind in ("timestamp", "double", "float"):
        base = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers())
    elif kind == "list":
        item = value_for(shape.member, pool, hostile, depth + 1, name)
        base = st.lists(item, min_size=meta.get("min", 0), max_size=max(meta.get("min", 0), 3))
        if hostile:
            base = st.one_of(base, item.map(lambda v: [v, v]))  # repeated items
    elif kind == "map":
        base = st.dictionaries(_clean_text(shape.key, pool),
                               value_for(shape.value, pool, hostile, depth + 1), max_size=3)
    elif kind == "structure":
        base = structure_for(shape, pool, hostile, depth)
    else:
        base = st.just("x")
    if not hostile:
        return base
    return st.one_of(base, base, base, base, base, base, st.sampled_from(NASTY_VALUES))


def structure_for(shape, pool: Pool, hostile: bool, depth: int = 0) -> st.SearchStrategy:
    required = {n: value_for(m, pool, hostile, depth + 1, n) for n, m in shape.members.items()
                if n in shape.required_members}
    optional = {n: value_for(m, pool, hostile, depth + 1, n) for n, m in shape.members.items()
                if n not in shape.required_members}
    return st.fixed_dictionaries(required, optional=optional)


_STRATEGIES: dict[tuple, st.SearchStrategy] = {}


def _input_strategy(operation: str, pool: Pool, hostile: bool) -> st.SearchStrategy:
    """The operation's input strategy, built once (building them is most of the cost)."""
    key = (operation, id(pool), hostile)
    if key not in _STRATEGIES:
        shape = wire.service_model().operation_model(operation).input_shape
        _STRATEGIES[key] = structure_for(shape, pool, hostile)
    return _STRATEGIES[key]


def _slots(value, path=()):
    """Every place in a value: (path, value) pairs, the value itself included."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _slots(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _slots(item, path + (index,))


def _replace(value, path, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replace(copy[head], rest, new)
    return copy


def _mutations(old) -> list:
    out = [None, None, 2 ** 63, -(2 ** 31) - 1, True, [], {}, "", "x" * 3000]
    if isinstance(old, str):
        out += [old + "\x00", "\x00" + old, old + "<b>", [old], 12]
    if isinstance(old, list):
        out += [old + [None], [None] + old, [None], old + old, old * 40]
    if isinstance(old, dict):
        out += [{**old, "": "x"}, {**old, "k": None}, {**old, "k\x00": "v"}, [old]]
    return out


def _mutated(params: dict, rng: random.Random) -> dict:
    """``params`` with one place changed into something hostile."""
    slots = [slot for slot in _slots(params) if slot[0]]
    path, old = rng.choice(slots)
    return _replace(params, path, rng.choice(_mutations(old)))


@st.composite
def request_for(draw, operation: str, pool: Pool, rng: random.Random | None = None):
    op = wire.service_model().operation_model(operation)
    shape = op.input_shape
    # Every request starts well formed, so that it reaches the handler; most then carry one
    # hostile value in one place, some are hostile throughout.
    # Top-level choices come from a seeded Random: hypothesis favours the first element of a
    # sampled list, which would make most requests alike.
    rng = rng or random.Random(draw(st.integers(0, 2 ** 32)))
    mode = rng.choice(["clean", "one", "one", "one", "all"])
    params = draw(_input_strategy(operation, pool, mode == "all")) if shape is not None else {}
    if mode == "one" and params:
        params = _mutated(params, rng)
    hostile = mode != "clean"
    path = op.http["requestUri"].split("?", 1)[0]
    query: list[tuple[str, str]] = []
    headers = {"content-type": "application/json"}
    body: dict = {}
    for name, value in params.items():
        member = shape.members[name]
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        text = value if isinstance(value, str) else json.dumps(value)
        if location == "uri":
            path = path.replace("{%s}" % wire_name, quote(text or "x", safe=""))
            path = path.replace("{%s+}" % wire_name, quote(text or "x", safe="/"))
        elif location == "querystring":
            for item in (value if isinstance(value, list) else [value]):
                query.append((wire_name, item if isinstance(item, str) else json.dumps(item)))
        elif location == "header":
            if "\x00" not in text and "\n" not in text and "\r" not in text:
                headers[wire_name] = text.encode("utf-8").decode("latin-1")
        else:
            body[name] = value
    for label in [p for p in path.split("/") if p.startswith("{")]:
        path = path.replace(label, quote(draw(st.sampled_from(pool.ids)), safe=""))
    if hostile and draw(st.integers(0, 9)) == 0:
        body["notAMember"] = "x"  # unknown members are refused, never stored
    # The stdlib encoder: it writes integers past 64 bits too (orjson refuses them).
    payload = (b"" if op.http["method"] in ("GET", "DELETE") and not body
               else json.dumps(body).encode())
    return op.http["method"], path, query, headers, payload


def send(client: httpx.Client, base: str, identity, method, path, query, headers, payload):
    url = base + path
    if query:
        url += "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)
    request = AWSRequest(method=method, url=url, data=payload, headers=headers)
    SigV4Auth(Credentials(identity.key_id, identity.secret), "auditmanager",
              "us-east-1").add_auth(request)
    prepared = request.prepare()
    response = client.request(method, httpx.URL(url), content=payload,
                              headers=dict(prepared.headers))
    return response.status_code, response.text


def test_fuzzed_operations_never_answer_5xx(server, artifacts):
    pool = Pool(server)
    identities = [server.admin] + [server.identity(role)
                                   for role in ("process-owner", "delegate", "auditor")]
    stats = {"requests": 0, "status": {}, "failures": []}
    operations = _ops()
    admin = server.client()

    with httpx.Client(timeout=60) as client:
        @seed(SEED)
        @settings(max_examples=REQUESTS, database=None, deadline=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(st.data())
        def fuzz(data):
            rng = random.Random(data.draw(st.integers(0, 2 ** 32)))
            operation = rng.choice(operations)
            identity = rng.choice(identities[:1] * 3 + identities[1:])
            method, path, query, headers, payload = data.draw(request_for(operation, pool, rng))
            status, text = send(client, server.url, identity, method, path, query, headers,
                                payload)
            stats["requests"] += 1
            stats["status"][str(status)] = stats["status"].get(str(status), 0) + 1
            if status >= 500:
                stats["failures"].append({"operation": operation, "method": method,
                                          "path": path, "query": query,
                                          "body": payload.decode("utf-8", "replace")[:2000],
                                          "status": status, "answer": text[:500]})
            if operation == "DeregisterAccount" and status < 300:
                admin.register_account()  # keep the rest of the run meaningful

        fuzz()

    report = {"backend": server.backend, "seed": SEED, "requests": stats["requests"],
              "5xx": len(stats["failures"]), "status": stats["status"],
              "failures": stats["failures"][:50]}
    (artifacts / f"fuzz-{server.backend}.json").write_bytes(
        orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(f"fuzz {server.backend}: {stats['requests']} requests, "
          f"{len(stats['failures'])} 5xx, statuses {stats['status']}")
    assert stats["requests"] >= REQUESTS * 0.9
    assert not stats["failures"], orjson.dumps(stats["failures"][:5],
                                               option=orjson.OPT_INDENT_2).decode()

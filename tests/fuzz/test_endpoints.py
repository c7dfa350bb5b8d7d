"""Issue 15 item 2, endpoints: every federation and admin endpoint of a real running node, fed hostile
requests (random and mutated bodies, wrong types in every field, no or forged authentication), answers
with a typed JSON error — never a 500, never a traceback — stores nothing a stranger sent, and keeps
serving. Inputs are drawn from a seeded generator (deterministic: the same inputs on every run)."""

from __future__ import annotations

import json
import random
import sqlite3
from typing import Any

import aiohttp

from bench.fuzz_targets import seeds
from node.http import admin_api, federation_api
from node.runtime import NodeRuntime
from protocol.errors import ALL_CODES

FIELDS = ("skills", "id", "reason", "name", "hops", "description", "title", "node_id", "valid_through", "offset",
          "location", "limit", "path", "medal", "version", "ttl_ms", "status", "sector", "salary", "rows", "phone",
          "notes", "for_job", "email", "url", "token", "text", "seconds", "listen", "jsonld", "invite_id", "id_prefix",
          "consent_evidence", "via", "since", "seq", "redact", "force", "fingerprint", "expected_sector",
          "expected_name", "employment_type", "deadline", "consent_id", "confirmed", "html", "job_id", "candidate_id",
          "consent", "consent_scope", "consent_expires", "purposes", "scope", "location_type", "filled_by", "until")
# Admin routes that stop, re-key, move or snapshot the node when a body happens to be valid: not fuzzed
# here (each has its own tests); everything else is.
NOT_FUZZED = {"/stop", "/key/rotate", "/backup", "/restore/done", "/set-url", "/trust/clear-fork"}
PER_ROUTE = 60
TEXT_ROUTES = {"/federation/v1/checkpoint", "/federation/v1/cosignature"}
SEEDS = seeds()


def odd_value(rng: random.Random, depth: int = 0) -> Any:
    """A JSON value of a type a field does not expect: nulls, huge numbers, long or hostile text, nesting."""
    pick = rng.randrange(13 if depth < 3 else 10)
    if pick == 10:
        return [odd_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if pick == 11:
        return {rng.choice(FIELDS): odd_value(rng, depth + 1) for _ in range(rng.randrange(4))}
    if pick == 12:
        return [[[[[]]]]]
    return [None, True, 0, -1, 2**63, 2**70, 1.5e308, "", "x" * rng.choice((1, 300, 70_000)), "\u202e\x00\x1b[2J"][pick]


def admin_body(rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:
        return rng.choice(SEEDS)[: rng.randrange(200)]
    if kind == 1:
        return json.dumps(odd_value(rng)).encode()
    return json.dumps({field: odd_value(rng) for field in rng.sample(FIELDS, rng.randrange(1, 8))}).encode()


def mutated(rng: random.Random) -> bytes:
    data = bytearray(rng.choice(SEEDS))
    for _ in range(rng.randrange(1, 5)):
        at = rng.randrange(len(data) + 1)
        if rng.random() < 0.5 and at < len(data):
            data[at] = rng.randrange(256)
        else:
            data[at:at] = rng.randbytes(rng.randrange(1, 8))
    return bytes(data)


def stored_rows(node: NodeRuntime) -> dict[str, int]:
    path = node.service.home.db_path
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}


def _typed(status: int, body: bytes, path: str = "") -> str | None:
    """Why an answer is not a typed refusal (None when it is)."""
    if status >= 500 and status != 507:
        return f"HTTP {status} {body[:120]!r}"
    if status < 400:
        return None  # accepted: the request happened to be valid
    try:
        value = json.loads(body)
    except ValueError:
        if status == 404 and path in TEXT_ROUTES:
            return None  # the C2SP note routes answer in text, as witnesses do (protocol.md 18.6)
        return f"HTTP {status} with a body that is not JSON: {body[:80]!r}"
    code = value.get("error") if isinstance(value, dict) else None
    return None if code in ALL_CODES or code in {"user-error", "not-found", "method-not-allowed"} else f"code {code!r}"


async def test_federation_endpoints_refuse_hostile_requests_typed_and_store_nothing(node):
    rng = random.Random(15)
    base = f"http://{node.service.config.listen_host}:{node.service.config.listen_port}"
    routes = [(m, p) for m, p, _ in [*federation_api.ROUTES, *node.federation_routes]]
    before = stored_rows(node)
    wrong: list[str] = []
    async with aiohttp.ClientSession() as session:
        for method, path in routes:
            for _ in range(PER_ROUTE):
                headers = rng.choice([{}, {"Authorization": "OrgNode v=1,origin=" + "ab" * 32},
                                      {"Authorization": "".join(ch for ch in mutated(rng).decode("latin-1")[:200] if ch >= " " and ch != "\x7f")},
                                      {"Content-Type": "application/msgpack"}])
                async with session.request(method, base + path, data=mutated(rng), headers=headers) as resp:
                    problem = _typed(resp.status, await resp.read(), path)
                    if problem and not (method == "GET" and resp.status < 400):
                        wrong.append(f"{method} {path}: {problem}")
        async with session.get(base + "/health") as resp:
            assert resp.status == 200  # still serving
    assert not wrong, wrong[:10]
    assert len(routes) >= 10  # positive control: the whole table was walked, not an empty list
    after = stored_rows(node)
    changed = {t: (before[t], after.get(t)) for t in before if after.get(t) != before[t]}
    assert not changed, f"a stranger's requests changed {changed}"


async def test_admin_endpoints_answer_wrong_types_in_every_field_typed(node):
    rng = random.Random(9)
    routes = [(m, p) for m, p, _ in [*admin_api.ROUTES, *node.admin_routes] if p not in NOT_FUZZED]
    wrong: list[str] = []
    accepted = 0
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(node.socket_path))) as session:
        for method, path in routes:
            for _ in range(PER_ROUTE):
                if method == "GET":
                    params = {rng.choice(FIELDS): str(odd_value(rng))[:200] for _ in range(rng.randrange(4))}
                    request = session.get(f"http://localhost{path}", params=params)
                else:
                    request = session.post(f"http://localhost{path}", data=admin_body(rng),
                                           headers={"Content-Type": "application/json"})
                async with request as resp:
                    problem = _typed(resp.status, await resp.read())
                    accepted += resp.status < 400
                    if problem:
                        wrong.append(f"{method} {path}: {problem}")
        async with session.get("http://localhost/status") as resp:
            assert resp.status == 200  # still serving
    assert not wrong, sorted(set(wrong))[:20]
    assert len(routes) >= 40 and accepted > 0  # positive control: real routes, and some inputs got through

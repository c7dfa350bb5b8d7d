"""Every decoder a stranger, a partner or an admin's file can reach, as one table of fuzz targets.

Why: issue 15 item 2 asks that every decoder (statements, envelopes, bodies, batches, tokens,
bundles, card bundles, Authorization headers, CSV, JSON-LD, config) meets hostile input with a typed
error only — never a crash, a hang or growing memory. One table serves both drivers: the hypothesis
tests in CI (tests/fuzz/) and the long coverage-guided runs with atheris (``python -m bench.fuzz``).

Each target takes raw bytes and runs the same code the node runs on that input (the federation
parsers, the CLI's file readers, the config loader). ``TYPED`` are the errors that count as a clean
refusal; anything else escaping a target is a finding. A ``RemoteProtocolError`` must also carry a
code of the protocol's table (docs/protocol.md section 11).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.config import Config
from node.core.errors import UserError
from node.formats.candidate_csv import parse_candidates_csv
from node.formats.csv_columns import ColumnMapError
from node.formats.csv_text import CsvFileError, decode_csv_bytes
from node.formats.json_text import posting_input
from node.formats.posting import import_posting
from protocol import codec, kinds, sealing
from protocol.audit_bundle import AuditBundle, AuditInputError
from protocol.card_bundle import verify_bundle
from protocol.errors import ALL_CODES, RemoteProtocolError
from protocol.invite import InviteToken, PairRequest
from protocol.lan_pairing import LanAnnouncement, LanPairAnswer, LanPairConfirm, LanPairRequest
from protocol.match_query import MatchAnswer, MatchQuery
from protocol.page_seal import SealedPage
from protocol.path_call import Holders, HoldersQuery, PathCall, PathReply
from protocol.peer_url import normalise_base_url
from protocol.request_auth import parse_header
from protocol.statement import BODY_LIMITS, Envelope, Header
from protocol.sync import Batch, PullRequest, PushResults
from protocol.versions import parse_versions

# A clean refusal. json's JSONDecodeError is a ValueError: the CLI turns it into its message.
TYPED: tuple[type[BaseException], ...] = (RemoteProtocolError, AuditInputError, UserError, CsvFileError,
                                          ColumnMapError, tomllib.TOMLDecodeError, json.JSONDecodeError)


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    run: Callable[[bytes], object]
    what: str  # the input class, as issue 15 names it
    also_typed: tuple[type[BaseException], ...] = ()  # a decoder whose documented refusal is another type


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="surrogateescape")


def _ascii(data: bytes) -> str:
    return data.decode("latin-1")  # an HTTP header value arrives as latin-1 text


def _body(kind: str, private: bool) -> Callable[[bytes], object]:
    return lambda data: kinds.parse_body(kind, private, codec.decode(data, BODY_LIMITS))


def _open_plain(data: bytes) -> object:
    return Envelope.decode(data).open_plain()


def _sealed_plaintext(data: bytes) -> object:
    parts = codec.expect_list(codec.decode(data, sealing._PLAINTEXT_LIMITS), "sealed plaintext", 2)
    return codec.expect_bytes(parts[0], "salt", max_len=32), codec.expect_bytes(parts[1], "body", max_len=65536)


def _sealed_page(data: bytes) -> object:
    return SealedPage.from_value(codec.decode(data))


def _lan_txt(data: bytes) -> object:
    """mDNS TXT properties: ``key=value`` records separated by NUL (what zeroconf hands us)."""
    properties: dict[bytes, bytes | None] = {}
    for record in data.split(b"\0")[:32]:
        key, sep, value = record.partition(b"=")
        properties[key] = value if sep else None
    return LanAnnouncement.from_txt(properties)


def _csv(data: bytes) -> object:
    """The CLI's `candidate import` reader: bytes decoded by BOM / UTF-8 / Windows-1252, then parsed."""
    return parse_candidates_csv(decode_csv_bytes(data).text)


def _jsonld(data: bytes) -> object:
    """`job import`: a JSON document (or an HTML page's ld+json blocks) made into a job, as the node does."""
    try:
        text = data.decode("utf-8-sig")  # the CLI reads the file so, and refuses what is not UTF-8
    except UnicodeDecodeError as exc:
        raise UserError("not UTF-8 text") from exc
    request = posting_input(text, "posting.json")  # the CLI's reading; the admin API reads it back the same way
    return import_posting(request.get("jsonld"), job_id=b"\x01" * 16, now=1_767_225_600_000, hops=1,
                          page=request.get("html"))


def _config(data: bytes) -> object:
    """A home's config.toml as the node reads it (TOML, then the settings table)."""
    try:
        text = data.decode("utf-8")  # Path.read_text; the home's loader refuses undecodable files
    except UnicodeDecodeError as exc:
        raise UserError("not UTF-8 text") from exc
    return Config.from_mapping(tomllib.loads(text))


TARGETS: tuple[Target, ...] = (
    Target("codec.decode", codec.decode, "msgpack values"),
    Target("Header.decode", Header.decode, "statements"),
    Target("Envelope.decode", Envelope.decode, "envelopes"),
    Target("Envelope.open_plain", _open_plain, "envelopes"),
    Target("sealed plaintext", _sealed_plaintext, "envelopes"),
    *(Target(f"body:{kind}", _body(kind, spec.private), "bodies") for kind, spec in kinds.KINDS.items()),
    Target("Batch.decode", Batch.decode, "batches"),
    Target("PushResults.decode", PushResults.decode, "batches"),
    Target("PullRequest.decode", PullRequest.decode, "batches"),
    Target("SealedPage", _sealed_page, "batches"),
    Target("InviteToken.decode", lambda data: InviteToken.decode(_text(data)), "tokens"),
    Target("PairRequest.decode", PairRequest.decode, "tokens"),
    Target("LanPairRequest.decode", LanPairRequest.decode, "tokens"),
    Target("LanPairConfirm.decode", LanPairConfirm.decode, "tokens"),
    Target("LanPairAnswer.decode", LanPairAnswer.decode, "tokens"),
    Target("LanAnnouncement.from_txt", _lan_txt, "tokens"),
    Target("AuditBundle.decode", AuditBundle.decode, "bundles"),
    Target("card bundle", verify_bundle, "card bundles"),
    Target("MatchQuery.decode", MatchQuery.decode, "bodies"),
    Target("MatchAnswer.decode", MatchAnswer.decode, "bodies"),
    Target("HoldersQuery.decode", HoldersQuery.decode, "bodies"),
    Target("Holders.decode", Holders.decode, "bodies"),
    Target("PathCall.decode", PathCall.decode, "bodies"),
    Target("PathReply.decode", PathReply.decode, "bodies"),
    Target("Authorization", lambda data: parse_header(_ascii(data)), "Authorization headers"),
    Target("OrgNode-Versions", lambda data: parse_versions(_ascii(data)), "Authorization headers"),
    # normalise_base_url refuses with ValueError and its reason; every caller turns that into its message.
    Target("peer URL", lambda data: normalise_base_url(_text(data)), "tokens", also_typed=(ValueError,)),
    Target("CSV", _csv, "CSV"),
    Target("JSON-LD", _jsonld, "JSON-LD"),
    Target("config.toml", _config, "config"),
)
BY_NAME: dict[str, Target] = {target.name: target for target in TARGETS}


def run_typed(target: Target, data: bytes) -> str:
    """Run one input; return the outcome's name (``ok`` or the typed error's class, with its code).
    Anything not typed propagates: that is the finding."""
    try:
        target.run(data)
    except RemoteProtocolError as exc:
        if exc.code not in ALL_CODES:
            raise AssertionError(f"{target.name}: error code {exc.code!r} is not in the protocol's table") from exc
        return f"{type(exc).__name__}:{exc.code}"
    except TYPED + target.also_typed as exc:
        return type(exc).__name__
    return "ok"


VECTORS = Path(__file__).resolve().parents[1] / "docs" / "test-vectors.json"

TEXT_SEEDS: tuple[bytes, ...] = (
    b"name,email,skills,consent,consent_scope\nAmina Diallo,amina@example.org,forklift;welding,match refer,all\n",
    "First Name;Last Name;E-Mail\nJosé;García;josé@example.es\n".encode(),
    b"\xef\xbb\xbfEmail Address,Name\nb@example.org,B\n",
    "\ufeffname,email\na,a@example.org\n".encode("utf-16"),
    json.dumps({"@context": "https://schema.org", "@type": "JobPosting", "title": "Warehouse lead",
                "description": "<p>Lead <b>the</b> team</p>", "datePosted": "2026-01-01",
                "validThrough": "2027-01-01T00:00:00Z", "skills": ["Forklift", "Team leadership"],
                "jobLocationType": "TELECOMMUTE", "hiringOrganization": {"@type": "Organization", "name": "N"},
                "baseSalary": {"@type": "MonetaryAmount", "currency": "EUR",
                               "value": {"@type": "QuantitativeValue", "minValue": 30000, "unitText": "YEAR"}}}).encode(),
    b'<html><script type="application/ld+json">{"@graph": [{"@type": "JobPosting", "title": "x", "skills": "a"}]}</script></html>',
    b'name = "Youth Futures"\nsector = "nonprofit"\nlisten_host = "127.0.0.1"\nlisten_port = 8470\nurl = "https://youth.example"\n'
    b'sync_interval = 30\nlan_discovery = false\n',
    b"https://orgnode.youth.example/base",
    b"OrgNode-Versions: 1, 2",
)


def seeds() -> list[bytes]:
    """Valid inputs to start mutating from: every hex value and every token or header of
    docs/test-vectors.json (statements, envelopes, bodies, batches, bundles, tokens, headers), and a
    valid CSV, JSON-LD, HTML page and config.toml."""
    found: list[bytes] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and len(value) >= 4:
            try:
                found.append(bytes.fromhex(value))
            except ValueError:
                found.append(value.encode())

    walk(json.loads(VECTORS.read_text()))
    return sorted(set(found) | set(TEXT_SEEDS), key=lambda b: (len(b), b))

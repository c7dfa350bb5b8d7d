"""Decoders of the talent, matching, relay and provenance messages (protocol.md sections 15-18), and of
audit bundles, fed hostile input: random structured values, mutated valid values and random bytes.

Only ``RemoteProtocolError`` with a code of ``ALL_CODES`` may escape a protocol decoder; only
``AuditInputError`` may escape ``AuditBundle.decode``. Anything else fails the test by propagating.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import codec
from protocol.audit_bundle import AuditBundle, AuditInputError, Consistency, Proof
from protocol.consent import Consent, ConsentWithdrawal, ErasureReceipt
from protocol.errors import ALL_CODES, RemoteProtocolError
from protocol.jobs import Job, Location, Salary, Skill
from protocol.match_query import MatchAnswer, MatchQuery, Offer
from protocol.provenance import Checkpoint, ImpactReport, Partnership, Witness
from protocol.referrals import Referral, ReferralProfile, ReferralRequest, ReferralStatus
from protocol.relay import Relay
from protocol.statement import BODY_LIMITS

ID16 = b"\x01" * 16
ID32 = b"\x02" * 32

# One valid instance of every body kind: the starting points for mutation.
VALID_BODIES: dict[Any, Any] = {
    Job: Job(ID16, 2, "Analyst", (Skill("Python", "http://data.europa.eu/esco/skill/x"), Skill("SQL")), 1, hops=2,
             location=Location("Lyon", None, "FR"), employment_type=("FULL_TIME",), salary=Salary("EUR", 100, 200, "YEAR"),
             valid_through=5, filled_by=ID16),
    Consent: Consent(ID16, ID16, ("match", "refer"), ("all", "sector:nonprofit", "node:" + "ab" * 32), ("name", "skills"),
                     ID32, 1, 9),
    ConsentWithdrawal: ConsentWithdrawal(ID16, ID16, (ID16, b"\x03" * 16)),
    ErasureReceipt: ErasureReceipt(ID32, (ID16,), 7),
    ReferralRequest: ReferralRequest(ID16, ID16, ID32, ID32, ID16, ID16),
    ReferralProfile: ReferralProfile(ID16, {"name": "Ada", "skills": ["Python"]}, "note"),
    Referral: Referral(ID16, ID16, ID32, ID32, b"\x94\x01", ID16, ID32, ID16),
    ReferralStatus: ReferralStatus(ID16, "hired", ID32, "welcome"),
    Relay: Relay(ID32, ID32, ID16, 8, 2, b"box"),
    Checkpoint: Checkpoint(3, ID32),
    Witness: Witness((b"\x94\x01", b"")),
    Partnership: Partnership(ID32, "invite"),
    ImpactReport: ImpactReport(0, 10, ID32, {"referrals_sent": 1}, {"ab" * 32: {"hires": 1}}),
}
BODY_CLASSES = list(VALID_BODIES)

FIELD_NAMES = sorted({k for body in VALID_BODIES.values() for k in body.to_value()}
                     | {"label", "uri", "currency", "min", "max", "unit", "locality", "region", "country"})
WORDS = ["open", "filled", "closed", "onsite", "remote", "hybrid", "FULL_TIME", "YEAR", "EUR", "match", "refer", "audit",
         "all", "sector:nonprofit", "node:" + "ab" * 32, "node:zz", "sector:", "name", "email", "skills", "hired",
         "requested", "sent", "withdrawn", "invite", "lan", "", " ", "x" * 300]

scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.integers(-3, 300)
    | st.binary(max_size=40) | st.sampled_from([b"\x00" * 16, b"\x00" * 32])
    | st.text(max_size=20) | st.sampled_from(WORDS) | st.floats(allow_nan=False)
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=6), children, max_size=6),
    max_leaves=25,
)


def _typed(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except RemoteProtocolError as exc:
        assert exc.code in ALL_CODES


def _audit_typed(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except AuditInputError:
        pass


# --- body kinds --------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(BODY_CLASSES), values)
def test_bodies_random_values(cls: Any, value: Any) -> None:
    _typed(lambda: cls.from_value(value))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(BODY_CLASSES), st.dictionaries(st.sampled_from(FIELD_NAMES), values, max_size=10))
def test_bodies_random_maps_of_known_fields(cls: Any, value: dict[str, Any]) -> None:
    _typed(lambda: cls.from_value(value))


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(BODY_CLASSES), st.data())
def test_bodies_mutated_valid_values(cls: Any, data: st.DataObject) -> None:
    value = dict(VALID_BODIES[cls].to_value())
    for _ in range(data.draw(st.integers(1, 3))):
        key = data.draw(st.sampled_from(sorted(value) + FIELD_NAMES))
        if key in value and data.draw(st.booleans()):
            del value[key]
        else:
            value[key] = data.draw(values)
    _typed(lambda: cls.from_value(value))


@pytest.mark.parametrize("cls", BODY_CLASSES, ids=lambda c: c.KIND)
def test_valid_bodies_round_trip(cls: Any) -> None:
    body = VALID_BODIES[cls]
    assert cls.from_value(codec.decode(codec.encode(body.to_value()), BODY_LIMITS)) == body


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=1024))
def test_bodies_random_bytes(data: bytes) -> None:
    for cls in BODY_CLASSES:
        _typed(lambda cls=cls: cls.from_value(codec.decode(data, BODY_LIMITS)))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(BODY_CLASSES), st.data())
def test_bodies_mutated_encodings(cls: Any, data: st.DataObject) -> None:
    buf = bytearray(codec.encode(VALID_BODIES[cls].to_value()))
    for _ in range(data.draw(st.integers(1, 4))):
        buf[data.draw(st.integers(0, len(buf) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(buf)))
    _typed(lambda: cls.from_value(codec.decode(bytes(buf[:cut]), BODY_LIMITS)))


# --- match messages ----------------------------------------------------------------------------------

VALID_QUERY = MatchQuery(ID16, b"\x94\x01" + b"\x00" * 100).encode()
VALID_ANSWER = MatchAnswer(ID16, ID32, (Offer(ID16, 50, ("Python",)), Offer(b"\x05" * 16, 100, ("SQL", "Python")))).encode()
MATCH_DECODERS: list[Callable[[bytes], Any]] = [MatchQuery.decode, MatchAnswer.decode]


def test_match_messages_round_trip() -> None:
    assert MatchQuery.decode(VALID_QUERY).encode() == VALID_QUERY
    assert MatchAnswer.decode(VALID_ANSWER).encode() == VALID_ANSWER


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_match_random_bytes(data: bytes) -> None:
    for decoder in MATCH_DECODERS:
        _typed(lambda decoder=decoder: decoder(data))


@settings(max_examples=300, deadline=None)
@given(values | st.lists(values, max_size=5).map(lambda rest: [1, *rest]))
def test_match_structured_values(value: Any) -> None:
    data = msgpack.packb(value, use_bin_type=True)
    for decoder in MATCH_DECODERS:
        _typed(lambda decoder=decoder: decoder(data))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([VALID_QUERY, VALID_ANSWER]), st.data())
def test_match_mutated_encodings(base: bytes, data: st.DataObject) -> None:
    buf = bytearray(base)
    for _ in range(data.draw(st.integers(1, 4))):
        buf[data.draw(st.integers(0, len(buf) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(buf)))
    for decoder in MATCH_DECODERS:
        _typed(lambda decoder=decoder: decoder(bytes(buf[:cut])))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(values, values, values), max_size=4), values, values)
def test_match_answer_structured_offers(offers: list[tuple[Any, Any, Any]], qid: Any, holder: Any) -> None:
    data = msgpack.packb([1, qid, holder, [list(o) for o in offers]], use_bin_type=True)
    _typed(lambda: MatchAnswer.decode(data))


# --- audit bundles -----------------------------------------------------------------------------------

VALID_BUNDLE = AuditBundle(ID16, ID32, 1, (b"card",), (b"statement",), (Proof(ID32, ID32, (ID32,)),),
                           (Consistency(ID32, ID32, ()),), None).encode()


def test_audit_bundle_round_trip() -> None:
    assert AuditBundle.decode(VALID_BUNDLE).encode() == VALID_BUNDLE


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_audit_bundle_random_bytes(data: bytes) -> None:
    _audit_typed(lambda: AuditBundle.decode(data))


@settings(max_examples=300, deadline=None)
@given(values, st.dictionaries(st.sampled_from(["subject", "exported_by", "exported_at", "cards", "statements", "proofs",
                                                "consistency", "impact"]), values, max_size=8))
def test_audit_bundle_structured_values(value: Any, body: dict[str, Any]) -> None:
    for candidate in (value, [1, "orgnode-audit-bundle", body], [1, "orgnode-audit-bundle", value]):
        data = msgpack.packb(candidate, use_bin_type=True)
        _audit_typed(lambda data=data: AuditBundle.decode(data))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_audit_bundle_mutated(data: st.DataObject) -> None:
    buf = bytearray(VALID_BUNDLE)
    for _ in range(data.draw(st.integers(1, 4))):
        buf[data.draw(st.integers(0, len(buf) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(buf)))
    _audit_typed(lambda: AuditBundle.decode(bytes(buf[:cut])))

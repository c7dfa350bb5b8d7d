"""The published test vectors: recomputed from the fixed seeds, HPKE opened, and kept in sync with the spec."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from pathlib import Path
from typing import Any

import pytest

from protocol.errors import RemoteProtocolError
from protocol.sealing import open_bytes, open_statement_body
from protocol.statement import Envelope, SealedContent
from tests.protocol import make_vectors

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
HEX = re.compile(r"^(?:[0-9a-f]{2})+$")


@pytest.fixture(scope="module")
def stored() -> dict[str, Any]:
    data = make_vectors.load()
    assert data is not None, "docs/test-vectors.json is missing: run python -m tests.protocol.make_vectors"
    return data


def test_deterministic_vectors_match(stored: dict[str, Any]) -> None:
    fresh = make_vectors.deterministic()
    for key, value in fresh.items():
        assert stored[key] == value, f"vector {key!r} differs from a fresh computation"


@pytest.mark.parametrize("index", [0, 1])
def test_hpke_decryption_vector(stored: dict[str, Any], index: int) -> None:
    vector = stored["hpke"][index]
    b = make_vectors.identity("B")
    assert vector["recipient_node_id"] == b.node_id.hex()
    sealed = SealedContent(b.node_id, vector["suite"], bytes.fromhex(vector["ciphertext"]))
    assert open_bytes(sealed, b, bytes.fromhex(vector["info"])).hex() == vector["plaintext"]
    # The same through the envelope: the signed header, the sealed content, the body check.
    envelope = Envelope.decode(bytes.fromhex(vector["envelope_sealed"]))
    assert isinstance(envelope.content, SealedContent)
    statement = open_statement_body(envelope.open_plain(), envelope.content, b)
    assert statement.id.hex() == vector["statement_id"] == stored["note"]["id"]
    assert statement.body is not None and statement.body.hex() == stored["note"]["body"]


def test_hpke_vector_stable_when_regenerated(stored: dict[str, Any]) -> None:
    """make_vectors keeps the stored ciphertexts, so rerunning it leaves the file unchanged."""
    assert make_vectors.build(stored) == stored


def _values(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _values(v)]
    if isinstance(value, list):
        return [s for v in value for s in _values(v)]
    return [value] if isinstance(value, str) else []


def test_every_hex_value_is_in_the_spec(stored: dict[str, Any]) -> None:
    doc = DOC.read_text()
    hex_values = [v for v in _values(stored) if HEX.match(v)]
    assert len(hex_values) > 40
    missing = [v[:40] for v in hex_values if v not in doc]
    assert not missing, f"docs/protocol.md lacks {len(missing)} vector values, e.g. {missing[:3]}"
    assert stored["keys"]["A"]["fingerprint"] in doc
    assert stored["keys"]["B"]["fingerprint"] in doc


def test_spec_vector_section_is_current(stored: dict[str, Any]) -> None:
    """docs/protocol.md carries ``make_vectors --markdown`` verbatim (regenerate it, never hand-edit)."""
    assert make_vectors.markdown(stored) in DOC.read_text()


def test_spec_lists_every_error_code() -> None:
    from protocol.errors import ALL_CODES

    doc = DOC.read_text()
    for code in ALL_CODES:
        assert f"| `{code}` |" in doc, code
    for heading in ("Federation requests", "Sync", "Re-sharing", "Talent exchange", "Matching",
                    "Relaying through the trust path", "Provenance kinds", "Merkle trees", "Test vectors"):
        assert re.search(rf"^## \d+\. {heading}( \(.*\))?$", doc, re.M), heading


# --- federation vectors (sections 12-14) ---------------------------------------------------------


def test_request_auth_vector(stored: dict[str, Any]) -> None:
    from protocol.request_auth import SeenNonces, parse_header, signed_bytes, verify_request

    v = stored["request_auth"]
    a, b = make_vectors.identity("A"), make_vectors.identity("B")
    body = bytes.fromhex(v["body"])
    assert body == b"\x93\x01\x90\xc2"
    assert signed_bytes(v["method"], v["path"], a.node_id, b.node_id, v["ts"], bytes.fromhex(v["nonce"]), body).hex() == v["signed_bytes"]
    assert v["signed_bytes"].startswith(b"orgnode/request/v1\x00".hex())
    auth = parse_header(v["authorization"])
    assert (auth.origin, auth.destination, auth.ts) == (a.node_id, b.node_id, v["ts"])
    assert auth.signature.hex() == v["signature"]
    assert auth.header_value() == v["authorization"]
    # B checks it with A's key, at any time within the freshness window, exactly once.
    verify_request(auth, method="POST", path=v["path"], body=body, me=b.node_id, origin_key=a.signing_public, now=v["ts"] + 299_999)
    seen = SeenNonces()
    seen.check_and_add(auth, v["ts"])
    with pytest.raises(RemoteProtocolError) as replay:
        seen.check_and_add(auth, v["ts"] + 1)
    assert replay.value.code == "replay"
    for kwargs, code in [
        ({"me": a.node_id}, "wrong-recipient"),
        ({"now": v["ts"] + 300_001}, "stale"),
        ({"path": "/federation/v1/pull"}, "bad-signature"),
        ({"body": body + b"\x00"}, "bad-signature"),
    ]:
        args: dict[str, Any] = {"method": "POST", "path": v["path"], "body": body, "me": b.node_id,
                                "origin_key": a.signing_public, "now": v["ts"], **kwargs}
        with pytest.raises(RemoteProtocolError) as exc:
            verify_request(auth, **args)
        assert exc.value.code == code
    assert v["authorization"] in DOC.read_text()


def test_invite_vector(stored: dict[str, Any]) -> None:
    from protocol.invite import InviteToken, check_invite_proof, invite_proof

    v = stored["invite"]
    a, b = make_vectors.identity("A"), make_vectors.identity("B")
    token = InviteToken.decode(v["token"])
    assert token == InviteToken(v["url"], a.node_id, bytes.fromhex(v["invite_id"]), bytes.fromhex(v["secret"]), v["expires_at"])
    assert token.encode() == v["token"]
    assert v["token"] == "orgnode1:" + base64.urlsafe_b64encode(bytes.fromhex(v["token_msgpack"])).decode().rstrip("=")
    proof = bytes.fromhex(v["proof"])
    assert hmac.new(token.secret, bytes.fromhex(v["proof_message"]), hashlib.sha256).digest() == proof
    assert invite_proof(token.secret, a.node_id, b.node_id, token.invite_id) == proof
    check_invite_proof(token.secret, a.node_id, b.node_id, token.invite_id, proof)
    with pytest.raises(RemoteProtocolError):  # the proof is bound to the invitee
        check_invite_proof(token.secret, a.node_id, make_vectors.identity("A").node_id, token.invite_id, proof)
    token.check_not_expired(v["expires_at"])
    with pytest.raises(RemoteProtocolError) as exc:
        token.check_not_expired(v["expires_at"] + 1)
    assert exc.value.code == "expired"
    assert v["token"] in DOC.read_text()


def test_sync_vectors(stored: dict[str, Any]) -> None:
    from protocol.sync import Batch, ItemResult, PullRequest, PushResults

    v = stored["sync"]
    pull = PullRequest.decode(bytes.fromhex(v["pull_request"]["encoded"]))
    assert [[a.hex(), s] for a, s in pull.have] == v["pull_request"]["have"]
    assert pull.encode().hex() == v["pull_request"]["encoded"]

    batch = Batch.decode(bytes.fromhex(v["batch"]["encoded"]))
    assert batch.more is True
    assert [e.hex() for e in batch.envelopes] == [stored["note"]["envelope_withheld"], stored["key_rotation"]["envelope_plain"]]
    assert batch.encode().hex() == v["batch"]["encoded"]

    results = PushResults.decode(bytes.fromhex(v["push_results"]["encoded"]))
    assert results.results == tuple(ItemResult(bytes.fromhex(i), o) for i, o in v["push_results"]["results"])
    assert results.encode().hex() == v["push_results"]["encoded"]
    assert v["push_results"]["results"][0][0] == stored["note"]["id"]


def test_reshare_vector(stored: dict[str, Any]) -> None:
    from protocol.codec import decode
    from protocol.reshare import Reshare, verify_reshare
    from protocol.statement import BODY_LIMITS, sign_statement

    v = stored["reshare"]
    a, b = make_vectors.identity("A"), make_vectors.identity("B")
    body = bytes.fromhex(v["body"])
    reshare = Reshare.from_value(decode(body, BODY_LIMITS))
    assert reshare.root.hex() == v["root"]["envelope_plain"]
    assert reshare.card.hex() == v["card_bundle"]
    assert [p.hex() for p in reshare.path] == v["path"] == [b.node_id.hex()]
    # Wrapped in a statement of B (the last node on the path), it verifies and stops at hop 2.
    statement = sign_statement(b, kind="reshare", seq=2, prev=b"\x00" * 32, now=v["root"]["ts"],
                               body=reshare.to_value(), private=True, salt=b"\x01" * 32)
    assert statement.body == body
    verified = verify_reshare(statement)
    assert verified.root.author == a.node_id and verified.root.id.hex() == v["root"]["id"]
    assert (verified.hops, verified.distance, verified.may_travel_further) == (2, 2, False)
    assert verified.author_card.history.current_key == make_vectors.rotated_identity().signing_public


# --- talent, relay and provenance vectors (sections 15-18) -----------------------------------------


def test_job_vector(stored: dict[str, Any]) -> None:
    from protocol.jobs import Job
    from protocol.kinds import parse_body

    v = stored["job"]
    statement = Envelope.decode(bytes.fromhex(v["envelope_plain"])).open_plain()
    assert statement.id.hex() == v["id"] and (statement.kind, statement.seq, statement.header.private) == ("job", 5, True)
    assert statement.header.prev == bytes.fromhex(stored["reshare"]["root"]["id"])
    assert statement.header.key == make_vectors.rotated_identity().signing_public
    job = parse_body("job", True, statement.body_value())
    assert isinstance(job, Job) and job == make_vectors.job()
    assert job.job_id.hex() == v["job_id"] == "77" * 16 and job.title == v["title"]
    assert (job.version, job.hops, job.status, job.valid_through) == (1, 2, "open", make_vectors.JOB_VALID_THROUGH)
    assert job.is_offered(make_vectors.JOB_VALID_THROUGH) and not job.is_offered(make_vectors.JOB_VALID_THROUGH + 1)
    assert hashlib.sha256(bytes.fromhex(v["salt"]) + bytes.fromhex(v["body"])).hexdigest() == v["body_hash"]


def test_match_vectors(stored: dict[str, Any]) -> None:
    from protocol.match_query import MatchAnswer, MatchQuery, pseudonym
    from protocol.matching import Concept, Vocabulary, normalise, score

    v = stored["match"]
    b = make_vectors.identity("B")
    query = MatchQuery.decode(bytes.fromhex(v["match_query"]))
    assert query.query_id.hex() == v["query_id"] == "88" * 16
    assert query.job_envelope.hex() == stored["job"]["envelope_plain"]
    assert query.encode().hex() == v["match_query"]
    secret, candidate = bytes.fromhex(v["holder_secret"]), bytes.fromhex(v["candidate_id"])
    message = bytes.fromhex(v["pseudonym_message"])
    asker = make_vectors.identity("A").node_id
    job_id = Envelope.decode(query.job_envelope).open_plain().id
    assert message == b"orgnode/pseudonym/v1\x00" + asker + query.query_id + job_id + candidate
    assert hmac.new(secret, message, hashlib.sha256).digest()[:16].hex() == v["pseudonym"]
    assert pseudonym(secret, asker, query.query_id, job_id, candidate).hex() == v["pseudonym"] == "a0ccb50dbe95f1928ac2cb9bc32d89f3"
    answer = MatchAnswer.decode(bytes.fromhex(v["match_answer"]))
    assert (answer.query_id, answer.holder) == (query.query_id, b.node_id)
    assert [(o.pseudonym.hex(), o.score, list(o.matched)) for o in answer.offers] == [(v["pseudonym"], v["score"], v["matched"])]
    assert answer.encode().hex() == v["match_answer"]
    # The score: the candidate has one of the job's two skills; matched names the job's own label.
    python = Concept("esco:python", "Python (computer programming)", make_vectors.ESCO_PYTHON)
    vocabulary = Vocabulary({"python": python, "python computer programming": python})
    assert normalise("  Python (Computer Programming) ") == "python computer programming"
    result = score(["Python", "SQL"], ["python programming", "Excel"], vocabulary)
    assert (result.score, list(result.matched)) == (v["score"], v["matched"])


def test_checkpoint_vector(stored: dict[str, Any]) -> None:
    from protocol.merkle import tree_root, verify_inclusion
    from protocol.provenance import Checkpoint

    v = stored["checkpoint"]
    leaves = [bytes.fromhex(x) for x in v["leaves"]]
    assert [x.hex() for x in leaves] == [stored["org_card"]["id"], stored["note"]["id"], stored["key_rotation"]["id"],
                                         stored["reshare"]["root"]["id"], stored["job"]["id"]]
    statement = Envelope.decode(bytes.fromhex(v["envelope_plain"])).open_plain()
    assert statement.id.hex() == v["id"] and (statement.kind, statement.seq, statement.header.private) == ("checkpoint", 6, False)
    assert statement.header.prev == leaves[-1]
    checkpoint = Checkpoint.from_value(statement.body_value())
    assert checkpoint.size == v["size"] == len(leaves) < statement.seq
    assert checkpoint.root.hex() == v["root"] == tree_root(leaves).hex()
    for index, leaf in enumerate(leaves):
        from protocol.merkle import inclusion_proof

        verify_inclusion(leaf, index, checkpoint.size, inclusion_proof(leaves, index), checkpoint.root)


def test_referral_status_interview_vector(stored: dict[str, Any]) -> None:
    """A's seq 7 moves a referral to ``interview`` (section 15.9): the envelope opens to the signed
    statement, the body decodes to the fields given, and the same body naming a status outside the
    lifecycle table is refused."""
    from protocol.codec import decode
    from protocol.referrals import ReferralStatus, check_transition
    from protocol.statement import BODY_LIMITS

    v = stored["referral_status"]
    statement = Envelope.decode(bytes.fromhex(v["envelope_plain"])).open_plain()
    assert statement.id.hex() == v["id"] and (statement.kind, statement.seq, statement.header.private) == ("referral_status", 7, True)
    assert statement.header.prev.hex() == stored["checkpoint"]["id"] and statement.body is not None
    assert statement.body.hex() == v["body"] and hashlib.sha256(statement.salt + statement.body).hexdigest() == v["body_hash"]
    body = ReferralStatus.from_value(statement.body_value())
    assert (body.referral_id.hex(), body.status, body.previous.hex(), body.reason) == (
        v["referral_id"], "interview", v["previous"], v["reason"])
    assert body.to_value() == decode(bytes.fromhex(v["body"]), BODY_LIMITS)
    check_transition("received", body.status, "job_org")
    with pytest.raises(RemoteProtocolError, match="unknown referral status 'interviewing'") as exc:
        ReferralStatus.from_value(decode(bytes.fromhex(v["rejected_body"]), BODY_LIMITS))
    assert exc.value.code == "malformed"


def test_relay_decryption_vector(stored: dict[str, Any]) -> None:
    from protocol.codec import decode
    from protocol.relay import Relay, open_relay, relay_info
    from protocol.statement import BODY_LIMITS

    v = stored["relay"]
    a, b = make_vectors.identity("A"), make_vectors.identity("B")
    assert v["info"] == (b"orgnode/relay/v1\x00" + a.node_id + b.node_id).hex() == relay_info(a.node_id, b.node_id).hex()
    sealed = SealedContent(b.node_id, v["suite"], bytes.fromhex(v["ciphertext"]))
    assert open_bytes(sealed, b, bytes.fromhex(v["info"])).hex() == v["plaintext"]
    relay = Relay.from_value(decode(bytes.fromhex(v["body"]), BODY_LIMITS))
    assert (relay.origin, relay.to, relay.route.hex(), relay.ttl, relay.suite) == (a.node_id, b.node_id, v["route"], v["ttl"], v["suite"])
    assert relay.sealed.hex() == v["ciphertext"]
    delivered = open_relay(relay, b)
    assert delivered.origin.node_id == a.node_id
    assert [s.id.hex() for s in delivered.statements] == v["statement_ids"] == [stored["reshare"]["root"]["id"], stored["job"]["id"]]
    assert [Envelope.of(s).encode().hex() for s in delivered.statements] == [stored["reshare"]["root"]["envelope_plain"],
                                                                          stored["job"]["envelope_plain"]]
    # Bound to origin and recipient: another info does not open it, and A cannot open it.
    with pytest.raises(RemoteProtocolError) as exc:
        open_bytes(sealed, b, relay_info(b.node_id, b.node_id))
    assert exc.value.code == "decrypt-failed"
    with pytest.raises(RemoteProtocolError) as exc:
        open_relay(relay, a)
    assert exc.value.code == "wrong-recipient"
    forwarded = relay.forwarded()
    assert (forwarded.ttl, forwarded.sealed) == (relay.ttl - 1, relay.sealed)


def test_base_url_vectors(stored: dict[str, Any]) -> None:
    """Section 12.1: every valid URL normalises as published; every invalid one is refused in a card and a token."""
    from protocol.bodies import OrgCard
    from protocol.identity import EncryptionPublicKeys
    from protocol.invite import InviteToken
    from protocol.peer_url import base_url_problem, normalise_base_url

    keys = EncryptionPublicKeys(b"\x01" * 32, b"\x02" * 1184)
    assert stored["base_url"]["valid"] and stored["base_url"]["invalid"]
    for vector in stored["base_url"]["valid"]:
        assert normalise_base_url(vector["url"]) == vector["normalised"]
        assert OrgCard("A", "nonprofit", vector["url"], keys).url == vector["url"]
    for vector in stored["base_url"]["invalid"]:
        assert base_url_problem(vector["url"]) == vector["reason"] is not None
        with pytest.raises(RemoteProtocolError) as card:
            OrgCard("A", "nonprofit", vector["url"], keys)
        assert card.value.code == "bad-body"
        token = InviteToken(vector["url"], b"\x00" * 32, b"\x00" * 16, b"\x00" * 32, 0).encode()
        with pytest.raises(RemoteProtocolError) as invite:
            InviteToken.decode(token)
        assert invite.value.code == "bad-invite"


def test_job_posting_vector(stored: dict[str, Any]) -> None:
    """Section 15.2 ``posting``: the job body carries the original JobPosting as JSON text, checked on receipt."""
    import json

    from protocol.codec import decode
    from protocol.jobs import Job
    from protocol.statement import BODY_LIMITS

    v = stored["job_posting"]
    job = Job.from_value(decode(bytes.fromhex(v["body"]), BODY_LIMITS))
    assert job.posting == v["posting"] and json.loads(job.posting)["@type"] == "JobPosting"
    assert job.version == 2 and job.title == stored["job"]["title"]
    assert Job.from_value(decode(bytes.fromhex(stored["job"]["body"]), BODY_LIMITS)).posting is None  # absent: no posting


def test_reshare_want_vectors_decode_and_refuse(stored: dict[str, Any]) -> None:
    """Section 14.2: the offer batch and the want request decode to what the vector says; each
    rejected want request is refused with its code."""
    from protocol.reshare_want import WantRequest
    from protocol.sync import Batch

    wv = stored["reshare_want"]
    batch = Batch.decode(bytes.fromhex(wv["offer_batch"]))
    assert [(o.index, o.root.hex(), o.root_author.hex(), o.distance) for o in batch.offers] == [
        (0, wv["offer"]["root"], wv["offer"]["root_author"], 2)]
    assert wv["offer"]["root"] == stored["reshare"]["root"]["id"]
    envelope = Envelope.decode(batch.envelopes[0])
    assert envelope.content is None and envelope.open_plain().id.hex() == wv["reshare"]["id"]
    assert WantRequest.decode(bytes.fromhex(wv["want_request"]["encoded"])).seqs == (2,)
    for case in wv["rejected_wants"]:
        with pytest.raises(RemoteProtocolError) as refused:
            WantRequest.decode(bytes.fromhex(case["encoded"]))
        assert refused.value.code == case["code"], case["case"]

"""Deterministic protocol test vectors, written to docs/test-vectors.json.

Run ``python -m tests.protocol.make_vectors`` from the repository root to rewrite the file.
Every value is derived from fixed seeds except the HPKE ciphertexts (HPKE encryption is randomized):
those are kept from the existing file as long as they still open, and only made afresh otherwise.
``--markdown`` prints the vector part of the "Test vectors" section of docs/protocol.md (from
"### Node A" to the end), built from the same data; test_vectors checks the spec carries it verbatim,
so paste it there after changing a vector.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from protocol import request_auth
from protocol.bodies import KeyRotation, Note, OrgCard
from protocol.card_bundle import encode_bundle
from protocol.codec import encode
from protocol.identity import Identity
from protocol.invite import INVITE_PROOF_TAG, InviteToken, invite_proof
from protocol.jobs import Job, Location, Salary, Skill
from protocol.match_query import PSEUDONYM_TAG, MatchAnswer, MatchQuery, Offer, pseudonym
from protocol.merkle import tree_root
from protocol.peer_url import base_url_problem, normalise_base_url
from protocol.provenance import Checkpoint
from protocol.referrals import ReferralStatus
from protocol.relay import MAX_TTL, Relay, open_relay, relay_info
from protocol.reshare import make_reshare
from protocol.sealing import SUITE_MLKEM768_X25519, SUITE_X25519, open_bytes, seal_bytes, seal_info
from protocol.statement import Envelope, SealedContent, Statement, sign_statement
from protocol.sync import Batch, ItemResult, PullRequest, PushResults
from tests.protocol import correction_vectors, rejection_vectors, want_vectors
from tests.protocol.rejection_vectors import rejected_vectors

VECTORS_PATH = Path(__file__).resolve().parents[2] / "docs" / "test-vectors.json"

SEEDS = {
    "A": (b"\x01" * 32, b"\x11" * 32, b"\x21" * 64),
    "B": (b"\x02" * 32, b"\x12" * 32, b"\x22" * 64),
}
ROTATION_SEED = b"\x03" * 32
ORG_CARD_TS = 1767225600000
NOTE_TS = 1767225660000
ROTATION_TS = 1767225720000
NOTE_SALT = b"\x33" * 32
NOTE_TEXT = "Hello from Youth Futures"
# Federation vectors (protocol.md sections 12-14).
REQUEST_TS = 1767225600000
REQUEST_NONCE = b"\x44" * 16
REQUEST_PATH = "/federation/v1/push"
REQUEST_BODY = b"\x93\x01\x90\xc2"  # Batch([], more=False): an empty push
INVITE_URL = "https://youth.example"
INVITE_ID = b"\x55" * 16
INVITE_SECRET = b"\x66" * 32
INVITE_EXPIRES = 1767830400000  # REQUEST_TS + 7 days
SHARED_NOTE_TS = 1767225780000
SHARED_NOTE_SALT = b"\x77" * 32
SHARED_NOTE_TEXT = "Two hops, please"
# Talent, relay and provenance vectors (protocol.md sections 15-18).
JOB_ID = b"\x77" * 16
JOB_SALT = b"\x7a" * 32
JOB_TS = 1767225840000
JOB_VALID_THROUGH = 1769903999000  # 2026-01-31T23:59:59Z
ESCO_PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"
ESCO_SQL = "http://data.europa.eu/esco/skill/598de5b0-5b58-4ea7-8058-a4bc4d18c742"
QUERY_ID = b"\x88" * 16
PSEUDONYM_SECRET = b"\x99" * 32
CANDIDATE_ID = b"\xaa" * 16
CHECKPOINT_TS = 1767225900000
# A referral status with a stage (section 15.9): A, the job's org, moves referral 0xbb × 16 to interview.
REFERRAL_ID = b"\xbb" * 16
REFERRAL_PREVIOUS = b"\xbc" * 32  # stands for the id of the status it follows (received)
STATUS_SALT = b"\xbd" * 32
STATUS_TS = 1767225960000
STATUS_REASON = "First interview on Tuesday"


def identity(name: str) -> Identity:
    return Identity.from_seeds(*SEEDS[name])


def key_vector(name: str) -> dict[str, Any]:
    ident = identity(name)
    ed, xs, ms = SEEDS[name]
    enc = ident.encryption_public
    return {
        "ed25519_seed": ed.hex(),
        "x25519_seed": xs.hex(),
        "mlkem768_seed": ms.hex(),
        "ed25519_public": ident.genesis_public.hex(),
        "x25519_public": enc.x25519.hex(),
        "mlkem768_public_sha256": hashlib.sha256(enc.mlkem768).hexdigest(),
        "node_id": ident.node_id.hex(),
        "fingerprint": ident.fingerprint,
    }


def statements() -> tuple[Statement, Statement, Statement]:
    """A's first three statements: org card (public), note (private), key rotation (public)."""
    a = identity("A")
    card = OrgCard("Youth Futures", "nonprofit", "https://youth.example", a.encryption_public)
    s1 = sign_statement(a, kind=OrgCard.KIND, seq=1, prev=None, now=ORG_CARD_TS, body=card.to_value(), private=False)
    s2 = sign_statement(
        a, kind=Note.KIND, seq=2, prev=s1.id, now=NOTE_TS, body=Note(NOTE_TEXT).to_value(), private=True, salt=NOTE_SALT
    )
    new = Identity.from_seeds(ROTATION_SEED, SEEDS["A"][1], SEEDS["A"][2])
    rotation = KeyRotation(new.signing_public, new.sign(KeyRotation.signed_message(a.node_id, a.signing_public, new.signing_public)))
    s3 = sign_statement(a, kind=KeyRotation.KIND, seq=3, prev=s2.id, now=ROTATION_TS, body=rotation.to_value(), private=False)
    return s1, s2, s3


def rotated_identity() -> Identity:
    """A after its key rotation at seq 3: same node id and encryption keys, Ed25519 seed ``03`` x 32."""
    return identity("A").with_signing_key(Identity.from_seeds(ROTATION_SEED, SEEDS["A"][1], SEEDS["A"][2]).signing_key)


def shared_note() -> Statement:
    """A's seq 4: a private note with ``hops`` 2, signed with A's rotated key (B re-shares it)."""
    _, _, s3 = statements()
    body = Note(SHARED_NOTE_TEXT, hops=2).to_value()
    return sign_statement(
        rotated_identity(), kind=Note.KIND, seq=4, prev=s3.id, now=SHARED_NOTE_TS, body=body, private=True, salt=SHARED_NOTE_SALT
    )


def job() -> Job:
    """A's job posting (version 1): two ESCO-linked skills, hops 2, open until JOB_VALID_THROUGH."""
    return Job(
        job_id=JOB_ID, version=1, title="Junior data analyst",
        skills=(Skill("Python", ESCO_PYTHON), Skill("SQL", ESCO_SQL)), date_posted=JOB_TS, hops=2,
        description="Entry-level role in our data team.", location=Location("Lyon", None, "FR"), location_type="hybrid",
        employment_type=("FULL_TIME",), salary=Salary("EUR", 3000000, 3800000, "YEAR"), valid_through=JOB_VALID_THROUGH,
    )


def job_statement() -> Statement:
    """A's seq 5: the private ``job`` above, signed with A's rotated key."""
    return sign_statement(
        rotated_identity(), kind=Job.KIND, seq=5, prev=shared_note().id, now=JOB_TS, body=job().to_value(), private=True,
        salt=JOB_SALT,
    )


def checkpoint_statement() -> Statement:
    """A's seq 6: a public ``checkpoint`` of A's statements 1..5."""
    s1, s2, s3 = statements()
    ids = [s1.id, s2.id, s3.id, shared_note().id, job_statement().id]
    body = Checkpoint(len(ids), tree_root(ids)).to_value()
    return sign_statement(
        rotated_identity(), kind=Checkpoint.KIND, seq=6, prev=ids[-1], now=CHECKPOINT_TS, body=body, private=False
    )


def referral_status_statement() -> Statement:
    """A's seq 7: a private ``referral_status`` moving a referral to ``interview``."""
    body = ReferralStatus(REFERRAL_ID, "interview", REFERRAL_PREVIOUS, STATUS_REASON).to_value()
    return sign_statement(rotated_identity(), kind=ReferralStatus.KIND, seq=7, prev=checkpoint_statement().id,
                          now=STATUS_TS, body=body, private=True, salt=STATUS_SALT)


def referral_status_vector() -> dict[str, Any]:
    """A's seq 7 (``referral_status_statement``), and a body with a status outside the table that a
    receiver MUST refuse (``malformed``; storage: ``bad-body``)."""
    body = ReferralStatus(REFERRAL_ID, "interview", REFERRAL_PREVIOUS, STATUS_REASON).to_value()
    statement = referral_status_statement()
    unknown = {**body, "status": "interviewing"}
    return {**statement_vector(statement), "referral_id": REFERRAL_ID.hex(), "status": "interview",
            "previous": REFERRAL_PREVIOUS.hex(), "reason": STATUS_REASON, "rejected_body": encode(unknown).hex()}


def job_vector() -> dict[str, Any]:
    return {**statement_vector(job_statement()), "job_id": JOB_ID.hex(), "title": job().title}


# The original schema.org JobPosting a job may carry (section 15.2, ``posting``): JSON text, here canonical.
JOB_POSTING_TEXT = ('{"@context":"https://schema.org/","@type":"JobPosting","directApply":true,'
                    '"industry":"Non-profit organizations","title":"Junior data analyst","workHours":"35 hours a week"}')


def job_posting_vector() -> dict[str, Any]:
    """The body of A's job (version 2: a new title is not needed, only the posting differs) carrying its posting."""
    body = encode(dataclasses.replace(job(), version=2, posting=JOB_POSTING_TEXT).to_value())
    return {"posting": JOB_POSTING_TEXT, "body": body.hex()}


def match_vectors() -> dict[str, Any]:
    b = identity("B")
    query = MatchQuery(QUERY_ID, Envelope.of(job_statement()).encode())
    asker = identity("A").node_id
    alias = pseudonym(PSEUDONYM_SECRET, asker, QUERY_ID, job_statement().id, CANDIDATE_ID)
    answer = MatchAnswer(QUERY_ID, b.node_id, (Offer(alias, 50, ("Python",)),))
    return {
        "query_id": QUERY_ID.hex(),
        "match_query": query.encode().hex(),
        "holder": "B",
        "holder_secret": PSEUDONYM_SECRET.hex(),
        "candidate_id": CANDIDATE_ID.hex(),
        "pseudonym_message": (PSEUDONYM_TAG + asker + QUERY_ID + job_statement().id + CANDIDATE_ID).hex(),
        "pseudonym": alias.hex(),
        "score": 50,
        "matched": ["Python"],
        "match_answer": answer.encode().hex(),
    }


def checkpoint_vector() -> dict[str, Any]:
    s1, s2, s3 = statements()
    leaves = [s1.id, s2.id, s3.id, shared_note().id, job_statement().id]
    cp = checkpoint_statement()
    return {**statement_vector(cp), "size": len(leaves), "leaves": [x.hex() for x in leaves], "root": tree_root(leaves).hex()}


def request_auth_vector() -> dict[str, Any]:
    a, b = identity("A"), identity("B")
    auth = request_auth.sign_request(
        a, method="POST", path=REQUEST_PATH, destination=b.node_id, body=REQUEST_BODY, now=REQUEST_TS, nonce=REQUEST_NONCE
    )
    signed = request_auth.signed_bytes("POST", REQUEST_PATH, a.node_id, b.node_id, REQUEST_TS, REQUEST_NONCE, REQUEST_BODY)
    return {
        "signer": "A",
        "method": "POST",
        "path": REQUEST_PATH,
        "origin": a.node_id.hex(),
        "destination": b.node_id.hex(),
        "ts": REQUEST_TS,
        "nonce": REQUEST_NONCE.hex(),
        "body": REQUEST_BODY.hex(),
        "body_sha256": hashlib.sha256(REQUEST_BODY).hexdigest(),
        "signed_bytes": signed.hex(),
        "signature": auth.signature.hex(),
        "authorization": auth.header_value(),
    }


def invite_vector() -> dict[str, Any]:
    a, b = identity("A"), identity("B")
    token = InviteToken(INVITE_URL, a.node_id, INVITE_ID, INVITE_SECRET, INVITE_EXPIRES)
    text = token.encode()
    return {
        "inviter": "A",
        "invitee": "B",
        "url": INVITE_URL,
        "node_id": a.node_id.hex(),
        "invite_id": INVITE_ID.hex(),
        "secret": INVITE_SECRET.hex(),
        "expires_at": INVITE_EXPIRES,
        "token_msgpack": encode([1, INVITE_URL, a.node_id, INVITE_ID, INVITE_SECRET, INVITE_EXPIRES]).hex(),
        "token": text,
        "proof_message": (INVITE_PROOF_TAG + a.node_id + b.node_id + INVITE_ID).hex(),
        "proof": invite_proof(INVITE_SECRET, a.node_id, b.node_id, INVITE_ID).hex(),
    }


def sync_vectors() -> dict[str, Any]:
    a, b = identity("A"), identity("B")
    _, s2, s3 = statements()
    pull = PullRequest(((a.node_id, 2), (b.node_id, 0)))
    batch = Batch((Envelope.of(s2, with_body=False).encode(), Envelope.of(s3).encode()), more=True)
    results = PushResults((ItemResult(s2.id, "duplicate"), ItemResult(s3.id, "appended"), ItemResult(b"\x00" * 32, "malformed")))
    return {
        "pull_request": {"have": [[a.node_id.hex(), 2], [b.node_id.hex(), 0]], "encoded": pull.encode().hex()},
        "batch": {"envelopes": ["note envelope_withheld", "key_rotation envelope_plain"], "more": True, "encoded": batch.encode().hex()},
        "push_results": {
            "results": [[s2.id.hex(), "duplicate"], [s3.id.hex(), "appended"], ["00" * 32, "malformed"]],
            "encoded": results.encode().hex(),
        },
    }


def reshare_vector() -> dict[str, Any]:
    s1, _, s3 = statements()
    note = shared_note()
    reshare = make_reshare(note, encode_bundle([s1, s3]), (identity("B").node_id,))
    return {
        "root": {**statement_vector(note), "text": SHARED_NOTE_TEXT, "hops": 2},
        "card_bundle": encode_bundle([s1, s3]).hex(),
        "path": [identity("B").node_id.hex()],
        "body": encode(reshare.to_value()).hex(),
    }


def reshare_want_vector() -> dict[str, Any]:
    s1, _, s3 = statements()
    note = shared_note()
    body = make_reshare(note, encode_bundle([s1, s3]), (identity("B").node_id,)).to_value()
    return want_vectors.vectors(identity("B"), body, note, statement_vector)


def statement_vector(s: Statement) -> dict[str, Any]:
    assert s.body is not None and s.salt is not None
    return {
        "kind": s.kind,
        "seq": s.seq,
        "ts": s.header.ts,
        "private": s.header.private,
        "salt": s.salt.hex(),
        "body": s.body.hex(),
        "body_hash": s.header.body_hash.hex(),
        "header": s.header_bytes.hex(),
        "signature": s.signature.hex(),
        "id": s.id.hex(),
        "envelope_plain": Envelope.of(s).encode().hex(),
        "envelope_withheld": Envelope.of(s, with_body=False).encode().hex(),
    }


BASE_URLS_VALID = [
    "https://youth.example", "https://Youth.Example/", "http://127.0.0.1:8470", "http://[2001:db8::1]:8470",
    "https://example.org/orgnode/", "https://example.org/a.b/c_d~e-f",
]
BASE_URLS_INVALID = [
    "https://user:pw@youth.example", "https://youth.example@evil.example", "https://youth.example/?", "https://youth.example?a=1",
    "https://youth.example/#", "https://youth.example/x#y", "https://youth.example/a/../admin", "https://youth.example/./a",
    "https://youth.example//a", "https://youth.example/a%2F..", "https://youth.example\\admin", "ftp://youth.example",
    "https:/youth.example", "https://youth.example:65536", "https://youth.example:", "https://youth.example:8a", "http://127.1", "http://0x7f000001",
    "http://2130706433", "http://[fe80::1%25eth0]", "https://you th.example", "https://", "",
]


def base_url_vectors() -> dict[str, Any]:
    """Peer base URLs (section 12.1): valid ones with their normalised form, refused ones with the reason."""
    return {
        "valid": [{"url": u, "normalised": normalise_base_url(u)} for u in BASE_URLS_VALID],
        "invalid": [{"url": u, "reason": base_url_problem(u)} for u in BASE_URLS_INVALID],
    }


def deterministic() -> dict[str, Any]:
    s1, s2, s3 = statements()
    rotation = KeyRotation.from_value(s3.body_value())
    return {
        "protocol_version": 1,
        "keys": {"A": key_vector("A"), "B": key_vector("B")},
        "org_card": {
            **statement_vector(s1),
            "name": "Youth Futures",
            "sector": "nonprofit",
            "url": "https://youth.example",
        },
        "note": {**statement_vector(s2), "text": NOTE_TEXT, "hops": 1},
        "key_rotation": {
            **statement_vector(s3),
            "new_ed25519_seed": ROTATION_SEED.hex(),
            "new_key": rotation.new_key.hex(),
            "new_signature": rotation.new_signature.hex(),
        },
        "request_auth": request_auth_vector(),
        "invite": invite_vector(),
        "sync": sync_vectors(),
        "reshare": reshare_vector(),
        "job": job_vector(),
        "job_posting": job_posting_vector(),
        "match": match_vectors(),
        "checkpoint": checkpoint_vector(),
        "referral_status": referral_status_vector(),
        "referral_correction": correction_vectors.vectors(
            rotated_identity(), REFERRAL_ID, referral_status_statement().id,
            ReferralStatus(REFERRAL_ID, "interview", REFERRAL_PREVIOUS, STATUS_REASON).to_value(), statement_vector),
        "reshare_want": reshare_want_vector(),
        "base_url": base_url_vectors(),
        "rejected": rejected_vectors(request_auth_vector()["authorization"], invite_vector()["token"]),
    }


def hpke_vectors(previous: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Seal A's private note to B once per suite; reuse the stored ciphertexts while they still open."""
    _, note, _ = statements()
    b = identity("B")
    assert note.salt is not None and note.body is not None
    plaintext = encode([note.salt, note.body])
    info = seal_info(note.id, b.node_id)
    old = {v["suite"]: v for v in (previous or {}).get("hpke", [])}
    out = []
    for suite in (SUITE_X25519, SUITE_MLKEM768_X25519):
        ciphertext: bytes | None = None
        if suite in old:
            candidate = bytes.fromhex(old[suite]["ciphertext"])
            try:
                if open_bytes(SealedContent(b.node_id, suite, candidate), b, info) == plaintext:
                    ciphertext = candidate
            except Exception:
                ciphertext = None
        if ciphertext is None:
            ciphertext = seal_bytes(plaintext, b.node_id, b.encryption_public, info, suite).ciphertext
        sealed = SealedContent(b.node_id, suite, ciphertext)
        out.append(
            {
                "suite": suite,
                "recipient": "B",
                "statement_id": note.id.hex(),
                "recipient_node_id": b.node_id.hex(),
                "info": info.hex(),
                "plaintext": plaintext.hex(),
                "ciphertext": ciphertext.hex(),
                "envelope_sealed": Envelope(note.header_bytes, note.signature, sealed).encode().hex(),
            }
        )
    return out


def relay_vector(previous: dict[str, Any] | None) -> dict[str, Any]:
    """A relays its seq 4 note and seq 5 job to B, sealed end to end; reuse the stored box while it still opens."""
    a, b = identity("A"), identity("B")
    s1, _, s3 = statements()
    card = encode_bundle([s1, s3])
    carried = [shared_note(), job_statement()]
    plaintext = encode([1, card, [Envelope.of(s).encode() for s in carried]])
    info = relay_info(a.node_id, b.node_id)
    ciphertext: bytes | None = None
    old = (previous or {}).get("relay")
    if old:
        candidate = bytes.fromhex(old["ciphertext"])
        try:
            if open_bytes(SealedContent(b.node_id, SUITE_MLKEM768_X25519, candidate), b, info) == plaintext:
                ciphertext = candidate
        except Exception:
            ciphertext = None
    if ciphertext is None:
        ciphertext = seal_bytes(plaintext, b.node_id, b.encryption_public, info, SUITE_MLKEM768_X25519).ciphertext
    relay = Relay(a.node_id, b.node_id, JOB_ID, MAX_TTL, SUITE_MLKEM768_X25519, ciphertext)
    assert [s.id for s in open_relay(relay, b).statements] == [s.id for s in carried]
    return {
        "origin": "A",
        "to": "B",
        "route": JOB_ID.hex(),
        "ttl": MAX_TTL,
        "suite": SUITE_MLKEM768_X25519,
        "info": info.hex(),
        "card_bundle": card.hex(),
        "statement_ids": [s.id.hex() for s in carried],
        "plaintext": plaintext.hex(),
        "ciphertext": ciphertext.hex(),
        "body": encode(relay.to_value()).hex(),
    }


def _kept_box(old: str | None, recipient: Identity, info: bytes, plaintext: bytes) -> bytes:
    """The stored HPKE box while it still opens to ``plaintext``, else a fresh one (HPKE is randomized)."""
    if old:
        try:
            if open_bytes(SealedContent(recipient.node_id, SUITE_MLKEM768_X25519, bytes.fromhex(old)), recipient, info) == plaintext:
                return bytes.fromhex(old)
        except Exception:
            pass
    return seal_bytes(plaintext, recipient.node_id, recipient.encryption_public, info, SUITE_MLKEM768_X25519).ciphertext


def path_vector(previous: dict[str, Any] | None) -> dict[str, Any]:
    """Calls along the trust path (protocol.md 17.7): A (rotated key) asks B who holds its job, then
    calls B with op ``match`` (the match query of the matching vector) and B replies with the match
    answer; B's proofs reply proves A's job in A's checkpoint (seq 6). HPKE boxes kept while they open."""
    from protocol.merkle import inclusion_proof
    from protocol.path_call import (
        CALL_INFO_TAG,
        CALL_SIG_TAG,
        REPLY_INFO_TAG,
        REPLY_SIG_TAG,
        Holder,
        Holders,
        HoldersQuery,
        PathCall,
        PathReply,
        _sig_message,
        open_call,
        open_reply,
        padded,
    )
    from protocol.path_proofs import EmployerProofs, encode_request

    a, b = rotated_identity(), identity("B")
    s1, s2, s3 = statements()
    card = encode_bundle([s1, s3])
    mv = match_vectors()
    content, answer = bytes.fromhex(mv["match_query"]), bytes.fromhex(mv["match_answer"])
    call_sig_message = _sig_message(CALL_SIG_TAG, b.node_id, JOB_ID, b"match" + content)
    call_plain = padded([1, "match", content, a.sign(call_sig_message)])
    call_info = CALL_INFO_TAG + a.node_id + b.node_id
    old = (previous or {}).get("path", {})
    call_box = _kept_box(old.get("call_ciphertext"), b, call_info, call_plain)
    call = PathCall(a.node_id, b.node_id, JOB_ID, (), 1, SUITE_MLKEM768_X25519, call_box)
    assert open_call(call, b, a.signing_public).content == content
    reply_sig_message = _sig_message(REPLY_SIG_TAG, a.node_id, call.box, answer)
    reply_plain = padded([1, answer, b.sign(reply_sig_message)])
    reply_info = REPLY_INFO_TAG + b.node_id + a.node_id
    reply_box = _kept_box(old.get("reply_ciphertext"), a, reply_info, reply_plain)
    reply = PathReply(b.node_id, SUITE_MLKEM768_X25519, reply_box)
    assert open_reply(reply, call, a, b.signing_public) == answer
    leaves = [s1.id, s2.id, s3.id, shared_note().id, job_statement().id]
    proofs = EmployerProofs(card, checkpoint_statement(), {job_statement().id: inclusion_proof(leaves, 4)})
    return {
        "holders_query": HoldersQuery(job_statement().id, 1).encode().hex(),
        "holders": Holders((Holder(card, (b.node_id, a.node_id)),)).encode().hex(),
        "call_signed_message": call_sig_message.hex(),
        "call_info": call_info.hex(),
        "call_plaintext": call_plain.hex(),
        "call_ciphertext": call_box.hex(),
        "call": call.encode().hex(),
        "reply_signed_message": reply_sig_message.hex(),
        "reply_info": reply_info.hex(),
        "reply_plaintext": reply_plain.hex(),
        "reply_ciphertext": reply_box.hex(),
        "reply": reply.encode().hex(),
        "proofs_request": encode_request([job_statement().id]).hex(),
        "proofs_reply": proofs.encode().hex(),
    }


PAGE_ID = b"\x5a" * 16
PAGE_SECRET = b"\x5b" * 32


def page_vector(previous: dict[str, Any] | None) -> dict[str, Any]:
    """A's private notes (seq 2 and seq 4) sealed to B as one page (protocol.md 13.8); the items are
    deterministic from the page secret, the HPKE box of the secret is kept while it still opens."""
    from protocol.page_seal import item_aad, item_key, page_info, seal_page

    b = identity("B")
    _, note, _ = statements()
    notes = [note, shared_note()]
    plaintexts: list[tuple[bytes, bytes] | None] = [(s.id, encode([s.salt, s.body])) for s in notes]
    info = page_info(PAGE_ID, b.node_id)
    page = seal_page(plaintexts, b.node_id, b.encryption_public, page_id=PAGE_ID, secret=PAGE_SECRET)
    box = page.box
    old = (previous or {}).get("page")
    if old:
        candidate = bytes.fromhex(old["box"])
        try:
            if open_bytes(SealedContent(b.node_id, SUITE_MLKEM768_X25519, candidate), b, info) == PAGE_SECRET:
                box = candidate
        except Exception:
            box = page.box
    page = type(page)(page.suite, page.recipient, page.page_id, box, page.items)
    envelopes = tuple(Envelope(s.header_bytes, s.signature, None).encode() for s in notes)
    return {
        "recipient": "B",
        "suite": SUITE_MLKEM768_X25519,
        "page_id": PAGE_ID.hex(),
        "secret": PAGE_SECRET.hex(),
        "info": info.hex(),
        "item_key": item_key(PAGE_SECRET, PAGE_ID, b.node_id).hex(),
        "statement_ids": [s.id.hex() for s in notes],
        "aad": [item_aad(PAGE_ID, 2, i, s.id, b.node_id).hex() for i, s in enumerate(notes)],
        "plaintexts": [p[1].hex() for p in plaintexts if p is not None],
        "items": [item.hex() for item in page.items if item is not None],
        "box": box.hex(),
        "batch": Batch(envelopes, False, page).encode().hex(),
    }


def build(previous: dict[str, Any] | None = None) -> dict[str, Any]:
    data = deterministic()
    data["hpke"] = hpke_vectors(previous)
    data["relay"] = relay_vector(previous)
    data["page"] = page_vector(previous)
    data["path"] = path_vector(previous)
    return data


def load() -> dict[str, Any] | None:
    if not VECTORS_PATH.exists():
        return None
    return json.loads(VECTORS_PATH.read_text())  # type: ignore[no-any-return]


def markdown(data: dict[str, Any]) -> str:
    lines: list[str] = []

    def block(label: str, value: object) -> None:
        lines.append(f"- {label}:")
        lines.append("")
        lines.append("  ```")
        lines.append(f"  {value}")
        lines.append("  ```")
        lines.append("")

    for name in ("A", "B"):
        k = data["keys"][name]
        lines.append(f"### Node {name}")
        lines.append("")
        for field in ("ed25519_seed", "x25519_seed", "mlkem768_seed", "ed25519_public", "x25519_public",
                      "mlkem768_public_sha256", "node_id", "fingerprint"):
            block(f"`{field}`", k[field])
    titles = {"org_card": "A's org card (seq 1, public)", "note": "A's private note (seq 2)",
              "key_rotation": "A's key rotation (seq 3)"}
    for key, title in titles.items():
        v = data[key]
        lines.append(f"### {title}")
        lines.append("")
        lines.append(f"kind `{v['kind']}`, seq {v['seq']}, ts {v['ts']}, private {str(v['private']).lower()}.")
        lines.append("")
        fields = ["salt", "body", "body_hash", "header", "signature", "id", "envelope_plain", "envelope_withheld"]
        if key == "key_rotation":
            fields += ["new_ed25519_seed", "new_key", "new_signature"]
        for field in fields:
            if data[key][field]:
                block(f"`{field}`", v[field])
            else:
                lines.append(f"- `{field}`: empty")
                lines.append("")
    for v in data["hpke"]:
        lines.append(f"### HPKE decryption, suite {v['suite']}: A's note sealed to B")
        lines.append("")
        for field in ("statement_id", "recipient_node_id", "info", "ciphertext", "plaintext", "envelope_sealed"):
            block(f"`{field}`", v[field])

    r = data["request_auth"]
    lines.append("### Request authentication: A pushes an empty batch to B")
    lines.append("")
    lines.append(f"Signed by A's genesis key; method `{r['method']}`, path `{r['path']}`, ts {r['ts']}, "
                 f"body `{r['body']}` (an empty `Batch`).")
    lines.append("")
    for field in ("origin", "destination", "nonce", "body_sha256", "signed_bytes", "signature", "authorization"):
        block(f"`{field}`", r[field])

    i = data["invite"]
    lines.append("### Invite token: A invites B")
    lines.append("")
    lines.append(f"url `{i['url']}`, inviter A, expires_at {i['expires_at']}.")
    lines.append("")
    for field in ("invite_id", "secret", "token_msgpack", "token", "proof_message", "proof"):
        block(f"`{field}`" + (" (for invitee B)" if field in ("proof_message", "proof") else ""), i[field])

    sync = data["sync"]
    lines.append("### Sync messages")
    lines.append("")
    lines.append("`PullRequest` with have = [[A, 2], [B, 0]]; `Batch` of A's note (withheld) and A's key rotation "
                 "(plain) with `more` = true; `PushResults` answering three items: the note `duplicate`, the key "
                 "rotation `appended`, an undecodable item (all-zero id) `malformed`.")
    lines.append("")
    block("`pull_request`", sync["pull_request"]["encoded"])
    block("`batch`", sync["batch"]["encoded"])
    block("`push_results`", sync["push_results"]["encoded"])

    rs = data["reshare"]
    root = rs["root"]
    lines.append("### Re-sharing: B re-shares A's note (seq 4, hops 2)")
    lines.append("")
    lines.append(f"A's seq 4 is a private `note` (`{{\"text\": \"{root['text']}\", \"hops\": 2}}`, salt `77` × 32, "
                 f"ts {root['ts']}) signed with A's rotated key (seed `03` × 32). The card bundle holds A's seq 1 and "
                 "seq 3; the path is [B]. A node that receives B's reshare is at distance 2 = hops: it accepts it and "
                 "does not re-share it further.")
    lines.append("")
    for field in ("salt", "body", "header", "signature", "id", "envelope_plain", "envelope_withheld"):
        block(f"root `{field}`", root[field])
    block("`card_bundle`", rs["card_bundle"])
    block("reshare `body`", rs["body"])

    jv = data["job"]
    lines.append("### Job: A's job posting (seq 5)")
    lines.append("")
    lines.append(f"kind `job`, seq 5, ts {jv['ts']}, private true, signed with A's rotated key; job_id `77` × 16, "
                 f"version 1, title `{jv['title']}`, skills `Python` and `SQL` with their ESCO URIs, hops 2, status "
                 "`open`, location Lyon, FR (`hybrid`), `FULL_TIME`, salary EUR 3000000–3800000 (hundredths) per `YEAR`, "
                 f"valid_through {JOB_VALID_THROUGH}; salt `7a` × 32.")
    lines.append("")
    for field in ("salt", "body", "body_hash", "header", "signature", "id", "envelope_plain", "envelope_withheld"):
        block(f"`{field}`", jv[field])

    pv = data["job_posting"]
    lines.append("### Job body carrying its original posting")
    lines.append("")
    lines.append("The body of the job above at version 2, with `posting` (section 15.2) set to this JSON text (UTF-8):")
    lines.append("")
    block("`posting`", pv["posting"])
    block("`body`", pv["body"])

    mv = data["match"]
    lines.append("### Matching: A asks B about its job")
    lines.append("")
    lines.append("`MatchQuery` with query id `88` × 16 carrying A's job envelope (plain). B's pseudonym for its candidate "
                 "with local id `aa` × 16, keyed with the holder secret `99` × 32, and B's `MatchAnswer` offering that "
                 f"pseudonym with score {mv['score']} and matched label `Python`.")
    lines.append("")
    for field in ("match_query", "holder_secret", "candidate_id", "pseudonym_message", "pseudonym", "match_answer"):
        block(f"`{field}`", mv[field])

    cv = data["checkpoint"]
    lines.append("### Checkpoint: A's log, statements 1 to 5 (seq 6)")
    lines.append("")
    lines.append(f"kind `checkpoint`, seq 6, ts {cv['ts']}, private false, signed with A's rotated key; size {cv['size']}, "
                 "root = the RFC 9162 root over the ids of A's seq 1 to 5 (the org card, the two notes, the key rotation "
                 "and the job above).")
    lines.append("")
    for field in ("root", "body", "body_hash", "header", "signature", "id", "envelope_plain", "envelope_withheld"):
        block(f"`{field}`", cv[field])

    sv = data["referral_status"]
    lines.append("### Referral status: A moves a referral to `interview` (seq 7)")
    lines.append("")
    lines.append(f"kind `referral_status`, seq 7, ts {sv['ts']}, private true, signed with A's rotated key (A is the job's "
                 f"org); `referral_id` `bb` × 16, `status` `interview`, `previous` `bc` × 32, `reason` \"{sv['reason']}\" "
                 "(section 15.9). `rejected_body` is the same body with `status` `interviewing`: a receiver MUST refuse "
                 "it (`malformed`; a log store refuses the statement as `bad-body`).")
    lines.append("")
    for field in ("salt", "body", "body_hash", "header", "signature", "id", "envelope_plain", "envelope_withheld",
                  "rejected_body"):
        block(f"`{field}`", sv[field])
    lines.append("")
    correction_vectors.markdown(data["referral_correction"], block, lines)
    want_vectors.markdown(data["reshare_want"], block, lines)

    rv = data["relay"]
    lines.append("### Relay decryption: A's note and job relayed to B")
    lines.append("")
    lines.append(f"A seals its seq 4 note and seq 5 job for B with suite {rv['suite']} (route = the job id, ttl "
                 f"{rv['ttl']}); the card bundle is the one of the re-sharing vector. B MUST open `ciphertext` with "
                 "`info` to `plaintext`, whose statements are A's seq 4 and seq 5 as given above.")
    lines.append("")
    for field in ("info", "ciphertext", "plaintext", "body"):
        block(f"`{field}`", rv[field])

    pv = data["page"]
    lines.append("### Sealed page: A's seq 2 and seq 4 notes in one pull answer to B")
    lines.append("")
    lines.append(f"Page id `5a` × 16, page secret `5b` × 32, suite {pv['suite']} (section 13.8). B MUST open `box` with "
                 "`info` to the page secret, derive `item_key`, open item i with nonce = 4 zero bytes || uint64(i) and "
                 "associated data `aad[i]` to `plaintexts[i]`, and MUST refuse the items swapped, the page truncated to "
                 "one item, or the page with another recipient. `batch` is the whole answer (`Batch` with its page).")
    lines.append("")
    for field in ("page_id", "secret", "info", "item_key", "box", "batch"):
        block(f"`{field}`", pv[field])
    for i in range(2):
        for field in ("statement_ids", "aad", "plaintexts", "items"):
            block(f"`{field}[{i}]`", pv[field][i])

    xv = data["path"]
    lines.append("### Path call: A asks B about its job across the trust path")
    lines.append("")
    lines.append("Section 17.7. `holders_query` asks for the holders of A's job (seq 5) with ttl 1; `holders` is an "
                 "answer naming A's card with path [B, A]. A (rotated key) calls B with op `match` and the match query "
                 "of the matching vector (route = the job id, path empty, ttl 1); B MUST open `call_ciphertext` with "
                 "`call_info` to `call_plaintext` and verify its signature over `call_signed_message` with A's current "
                 "key. B's reply carries the match answer of the matching vector; A MUST open `reply_ciphertext` with "
                 "`reply_info` to `reply_plaintext` and verify B's signature over `reply_signed_message` (bound to "
                 "SHA-256 of the call's box). `proofs_request` asks for A's job; `proofs_reply` proves it in A's "
                 "checkpoint (seq 6) with an RFC 9162 inclusion proof.")
    lines.append("")
    for field in ("holders_query", "holders", "call_signed_message", "call_info", "call_plaintext", "call_ciphertext",
                  "call", "reply_signed_message", "reply_info", "reply_plaintext", "reply_ciphertext", "reply",
                  "proofs_request", "proofs_reply"):
        block(f"`{field}`", xv[field])
    lines.extend(rejection_vectors.markdown(data["rejected"]))
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    data = build(load())
    if "--markdown" in argv:
        print(markdown(data))
        return
    VECTORS_PATH.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {VECTORS_PATH}")


if __name__ == "__main__":
    main(sys.argv[1:])

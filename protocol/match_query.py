"""Federated match queries: a job's org asks a trusted peer "who of yours fits this job?".

The query carries the job statement exactly as its author signed it (so the holder checks the job
is really the asker's); the answer carries, per fitting candidate, only a pseudonym fresh for this
query, the holder's node id, an integer score 0–100 and which of the job's own requirement labels
matched — never a name, a contact or any free text from the candidate's record (DOMAIN.md). The
pseudonym is ``HMAC-SHA256(holder_secret, PSEUDONYM_TAG || asker || query_id || job statement id ||
candidate local id)[:16]``:
unlinkable across queries, resolvable by the holder alone when a referral is requested.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from protocol import PROTOCOL_VERSION
from protocol.codec import Limits, decode, encode, expect_bytes, expect_int, expect_list, expect_str, expect_version
from protocol.errors import MALFORMED, RemoteProtocolError
from protocol.statement import MAX_ENVELOPE_BYTES

PSEUDONYM_TAG = b"orgnode/pseudonym/v1\x00"
MAX_OFFERS = 50
QUERY_LIMITS = Limits(max_bytes=MAX_ENVELOPE_BYTES + 256, max_bin_len=MAX_ENVELOPE_BYTES, max_array_len=4, max_map_len=0, max_depth=2)
ANSWER_LIMITS = Limits(max_bytes=64 * 1024, max_str_len=200, max_bin_len=32, max_array_len=MAX_OFFERS + 4, max_map_len=0, max_depth=5)


def pseudonym(holder_secret: bytes, asker: bytes, query_id: bytes, job_statement: bytes, candidate_id: bytes) -> bytes:
    """Binding the asker and the job (not only the asker-chosen query id) keeps pseudonyms unlinkable
    even if an asker reuses a query id across different jobs."""
    return hmac.digest(holder_secret, PSEUDONYM_TAG + asker + query_id + job_statement + candidate_id, "sha256")[:16]



@dataclass(frozen=True, slots=True)
class MatchQuery:
    """``[1, query_id, job_envelope]``: body of ``POST /federation/v1/match``."""

    query_id: bytes
    job_envelope: bytes

    def encode(self) -> bytes:
        return encode([PROTOCOL_VERSION, self.query_id, self.job_envelope])

    @classmethod
    def decode(cls, data: bytes) -> MatchQuery:
        items = expect_list(decode(data, QUERY_LIMITS), "match query")
        expect_version(items, "match query")
        expect_list(items, "match query", 3)
        return cls(expect_bytes(items[1], "match.query_id", 16), expect_bytes(items[2], "match.job", max_len=MAX_ENVELOPE_BYTES))


@dataclass(frozen=True, slots=True)
class Offer:
    pseudonym: bytes
    score: int
    matched: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MatchAnswer:
    """``[1, query_id, holder, [[pseudonym, score, [label, ...]], ...]]``."""

    query_id: bytes
    holder: bytes
    offers: tuple[Offer, ...]

    def encode(self) -> bytes:
        return encode([PROTOCOL_VERSION, self.query_id, self.holder,
                       [[o.pseudonym, o.score, list(o.matched)] for o in self.offers]])

    @classmethod
    def decode(cls, data: bytes) -> MatchAnswer:
        items = expect_list(decode(data, ANSWER_LIMITS), "match answer")
        expect_version(items, "match answer")
        expect_list(items, "match answer", 4)
        offers = []
        raw_offers = expect_list(items[3], "match answer.offers")
        if len(raw_offers) > MAX_OFFERS:
            raise RemoteProtocolError(MALFORMED, f"at most {MAX_OFFERS} offers")
        for raw in raw_offers:
            parts = expect_list(raw, "offer", 3)
            offers.append(Offer(
                expect_bytes(parts[0], "offer.pseudonym", 16),
                expect_int(parts[1], "offer.score", 0, 100),
                tuple(expect_str(m, "offer.matched[]", 200) for m in expect_list(parts[2], "offer.matched")),
            ))
        return cls(expect_bytes(items[1], "answer.query_id", 16), expect_bytes(items[2], "answer.holder", 32), tuple(offers))

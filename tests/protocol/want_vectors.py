"""Test vectors for lazy re-sharing (feature ``reshare-want``, docs/protocol.md 14.2; section 21).

B's seq 2 is its ``reshare`` of A's seq 4 note (the body of the re-sharing vector), sent to a partner
that named ``reshare-want`` withheld, with an offer in the batch (``offer_batch``); ``want_request``
is that partner's ``POST /federation/v1/want`` body asking B for it. The rejected want requests MUST
each be refused with the code given, before any lookup. Kept apart from make_vectors.py, which calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from protocol.codec import encode
from protocol.identity import Identity
from protocol.reshare_want import MAX_WANT, Offer, WantRequest
from protocol.statement import Envelope, Statement, sign_statement
from protocol.sync import Batch

RESHARE_SALT = b"\x5c" * 32
RESHARE_TS = 1767226080000
B_PREV = b"\x5d" * 32  # stands for the id of B's seq 1


def reshare_statement(b: Identity, reshare_body: Any) -> Statement:
    return sign_statement(b, kind="reshare", seq=2, prev=B_PREV, now=RESHARE_TS, body=reshare_body,
                          private=True, salt=RESHARE_SALT)


def rejected_wants() -> list[dict[str, str]]:
    cases = [("no seqs", [1, []], "malformed"), ("a seq twice", [1, [2, 2]], "malformed"), ("seq 0", [1, [0]], "malformed"),
             (f"{MAX_WANT + 1} seqs", [1, list(range(1, MAX_WANT + 2))], "too-large"),
             ("version 2", [2, [2]], "unknown-version"), ("a third element", [1, [2], True], "malformed"),
             ("a seq as a boolean", [1, [True]], "malformed"), ("a seq as text (strings have limit 0)", [1, ["2"]], "too-large")]
    return [{"case": case, "encoded": encode(value).hex(), "code": code} for case, value, code in cases]


def vectors(b: Identity, reshare_body: Any, root: Statement, statement_vector: Callable[[Statement], dict[str, Any]]
            ) -> dict[str, Any]:
    st = reshare_statement(b, reshare_body)
    offer = Offer(0, root.id, root.author, 2)
    batch = Batch((Envelope.of(st, with_body=False).encode(),), False, None, (offer,))
    return {
        "reshare": statement_vector(st),
        "offer": {"index": 0, "root": root.id.hex(), "root_author": root.author.hex(), "distance": 2,
                  "encoded": encode(offer.to_value()).hex()},
        "offer_batch": batch.encode().hex(),
        "want_request": {"seqs": [2], "encoded": WantRequest((2,)).encode().hex()},
        "rejected_wants": rejected_wants(),
    }


def markdown(wv: dict[str, Any], block: Callable[[str, object], None], lines: list[str]) -> None:
    lines.append("### Lazy re-sharing: B offers its re-share of A's note, and is asked for it")
    lines.append("")
    lines.append(f"B's seq 2 is a private `reshare` (ts {wv['reshare']['ts']}, salt `5c` × 32, prev `5d` × 32, signed "
                 "with B's genesis key) whose body is the reshare body of the re-sharing vector. To a partner that "
                 "named `reshare-want`, B sends it withheld with the offer `[0, root, root_author, 2]` (section 14.2): "
                 "`offer_batch` is that `Batch`. The partner asks for the body with `want_request` (`[1, [2]]`).")
    lines.append("")
    for field in ("salt", "body", "header", "signature", "id", "envelope_plain", "envelope_withheld"):
        block(f"reshare `{field}`", wv["reshare"][field])
    block("`offer`", wv["offer"]["encoded"])
    block("`offer_batch`", wv["offer_batch"])
    block("`want_request`", wv["want_request"]["encoded"])
    lines.append("Rejected want requests (a server MUST refuse each with the code given, before any lookup):")
    lines.append("")
    for r in wv["rejected_wants"]:
        lines.append(f"- {r['case']}: `{r['encoded']}` → `{r['code']}`")
    lines.append("")

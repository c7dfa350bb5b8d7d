"""Path calls (protocol/path_call.py, docs/protocol.md 17.7): the published vector opens, and a hop
cannot read, forge or replay an answer; malformed calls are refused with their codes."""

from __future__ import annotations

import os
from typing import Any

import pytest

from protocol.errors import RemoteProtocolError
from protocol.identity import Identity
from protocol.match_query import MatchAnswer, MatchQuery
from protocol.path_call import (
    PAD_BLOCK,
    REPLY_INFO_TAG,
    Holders,
    HoldersQuery,
    PathCall,
    PathReply,
    open_call,
    open_reply,
    padded,
    seal_call,
    seal_reply,
)
from protocol.path_proofs import check_reply, decode_reply, decode_request
from protocol.sealing import seal_bytes
from tests.protocol import make_vectors


def ident(seed: int) -> Identity:
    return Identity.from_seeds(bytes([seed]) * 32, bytes([seed + 1]) * 32, bytes([seed + 2]) * 64)


def test_the_published_path_vector_opens() -> None:
    data: Any = make_vectors.load()
    v = data["path"]
    a, b = make_vectors.rotated_identity(), make_vectors.identity("B")
    call = PathCall.decode(bytes.fromhex(v["call"]))
    opened = open_call(call, b, a.signing_public)
    assert opened.op == "match" and MatchQuery.decode(opened.content).query_id == make_vectors.QUERY_ID
    reply = PathReply.decode(bytes.fromhex(v["reply"]))
    assert MatchAnswer.decode(open_reply(reply, call, a, b.signing_public)).holder == b.node_id
    assert HoldersQuery.decode(bytes.fromhex(v["holders_query"])).ttl == 1
    assert Holders.decode(bytes.fromhex(v["holders"])).holders[0].path == (b.node_id, a.node_id)
    job = make_vectors.job_statement()
    assert decode_request(bytes.fromhex(v["proofs_request"])) == [job.id]
    check_reply(decode_reply(bytes.fromhex(v["proofs_reply"])), a.node_id, [job])


def test_a_hop_can_neither_forge_nor_replay_a_reply() -> None:
    asker, hop, holder = ident(1), ident(10), ident(20)
    route = os.urandom(16)
    call = seal_call(asker, holder.node_id, holder.encryption_public, route, (), "match", b"query", ttl=1)
    with pytest.raises(RemoteProtocolError, match=r"decrypt-failed|wrong-recipient"):
        open_call(call, hop, asker.signing_public)  # the hop cannot open it
    real = seal_reply(holder, call, asker.encryption_public, b"answer")
    assert open_reply(real, call, asker, holder.signing_public) == b"answer"  # control
    # The hop seals a box for the asker itself, under the holder's name, signed with its own key.
    fake = padded([1, b"fake", hop.sign(b"anything")])
    box = seal_bytes(fake, asker.node_id, asker.encryption_public, REPLY_INFO_TAG + holder.node_id + asker.node_id).ciphertext
    with pytest.raises(RemoteProtocolError, match="bad-signature"):
        open_reply(PathReply(holder.node_id, real.suite, box), call, asker, holder.signing_public)
    other = seal_call(asker, holder.node_id, holder.encryption_public, route, (), "match", b"query2", ttl=1)
    with pytest.raises(RemoteProtocolError, match="bad-signature"):
        open_reply(real, other, asker, holder.signing_public)  # a reply to one call is no answer to another


def test_a_call_signed_by_another_node_is_refused() -> None:
    asker, holder, mallory = ident(1), ident(20), ident(30)
    call = seal_call(mallory, holder.node_id, holder.encryption_public, os.urandom(16), (), "match", b"q", ttl=1)
    claimed = PathCall(asker.node_id, call.to, call.route, call.path, call.ttl, call.suite, call.sealed)
    with pytest.raises(RemoteProtocolError):
        open_call(claimed, holder, asker.signing_public)


def test_malformed_calls_are_refused_with_their_codes() -> None:
    asker, holder = ident(1), ident(20)
    call = seal_call(asker, holder.node_id, holder.encryption_public, os.urandom(16), (os.urandom(32),), "proofs", b"x", ttl=1)
    assert PathCall.decode(call.encode()) == call
    too_long = PathCall(call.origin, call.to, call.route, (os.urandom(32), os.urandom(32)), 1, call.suite, call.sealed)
    with pytest.raises(RemoteProtocolError, match="malformed"):
        PathCall.decode(too_long.encode())
    last = call.forwarded()
    assert last.ttl == 0 and last.path == ()
    with pytest.raises(RemoteProtocolError, match="hop-limit"):
        last.forwarded()
    with pytest.raises(RemoteProtocolError, match="malformed"):
        seal_call(asker, holder.node_id, holder.encryption_public, os.urandom(16), (), "delete", b"x", ttl=1)


def test_sealed_plaintexts_are_padded_to_the_block() -> None:
    """A hop sees an answer's size only to the 4 KiB block: 0 and 50 offers look the same."""
    for n in (0, 1, 200, 253, 254, 255, 256, 4000, 4093, 4094, 4095, 4096, 9000):
        assert len(padded([1, b"x" * n, b"s" * 64])) % PAD_BLOCK == 0, n
    asker, holder = ident(1), ident(20)
    call = seal_call(asker, holder.node_id, holder.encryption_public, os.urandom(16), (), "match", b"q", ttl=1)
    sizes = {len(seal_reply(holder, call, asker.encryption_public, b"o" * n).sealed) for n in (10, 2000)}
    assert len(sizes) == 1, sizes

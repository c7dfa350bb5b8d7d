"""Helpers for the lazy re-sharing tests (docs/protocol.md 14.2): the diamond of real nodes, what D
holds of it, and a real HTTP server standing in for a halted offerer.

The diamond: A - B, A - C, B - D, C - D (no A - D trust); A's note with hops 2 reaches D through B
and through C. Bodies are counted from D's stored data: B's and C's ``reshare`` entries in D's log.
"""

from __future__ import annotations

from aiohttp import web

from node.core.reshare_offers import serve_want
from protocol.bodies import Note
from protocol.reshare_want import WantRequest
from protocol.sync import Batch
from protocol.versions import FEATURES_HEADER, SUPPORTED
from tests.node.federation_helpers import HeldPeer, pair, wait_until

WANT = "/federation/v1/want"


async def diamond(net, *, d_versions=None, b_versions=None):
    """``*_versions``: None is this code's default registry (``SUPPORTED``, the feature on)."""
    a = await net.start("Alpha Org")
    b = await net.start("Bravo Org", versions=b_versions)
    c = await net.start("Charlie Org")
    d = await net.start("Delta Org", versions=d_versions)
    for x, y in ((a, b), (a, c), (b, d), (c, d)):
        await pair(x, y)
    # Every partner has answered once, so each knows the other's features before the note is sent.
    for x, y in ((b, d), (c, d), (d, b), (d, c)):
        await wait_until(lambda x=x, y=y: y.service.node_id in x.service.peer_features, what="features learnt")
    return a, b, c, d


def reshares_at(d, *origins) -> list[tuple[bytes, bool]]:
    """(re-sharer, whether its body is stored) for every ``reshare`` of the origins held in D's log."""
    rows = d.service.db.query(
        f"SELECT author, body FROM entries WHERE kind = 'reshare' AND author IN ({','.join('?' * len(origins))})",
        [o.service.node_id for o in origins])
    return [(bytes(r["author"]), r["body"] is not None) for r in rows]


def bodies(d, b, c) -> int:
    return sum(has for _, has in reshares_at(d, b, c))


def holds_root(d, root: bytes) -> bool:
    return bool(list(d.service.db.query("SELECT 1 FROM foreign_statements WHERE id = ?", [root])))


async def post_note(a, text: str):
    return a.federation.append(Note.KIND, Note(text, hops=2).to_value(), private=True)


def own_reshare_seq(node) -> int:
    return next(r["seq"] for r in node.service.db.query(
        "SELECT seq FROM entries WHERE author = ? AND kind = 'reshare'", [node.service.node_id]))


def genuine_answer(first, d) -> Batch:
    """What the honest ``first`` answers D's want for its re-share (its real keys and log)."""
    return serve_want(first.federation, d.service.node_id, WantRequest((own_reshare_seq(first),)))


class Offerer(HeldPeer):
    """Answers ``POST /federation/v1/want`` with ``answer``, chosen by the test (forged, or a halted
    node's genuine answer), once ``release`` is set (set at first); ``asked``: a want came."""

    def __init__(self, port: int, answer: bytes) -> None:
        super().__init__(port, WANT, released=True)
        self.answer = answer
        self.asked = self.arrived

    def respond(self) -> web.Response:
        return web.Response(body=self.answer, content_type="application/msgpack",
                            headers={FEATURES_HEADER: SUPPORTED.features_value()})

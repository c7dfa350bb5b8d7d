"""Three nodes in a line, A - B - C (no A - C trust): the hop limit decides how far a note travels."""

from __future__ import annotations

import sqlite3

import aiohttp

from protocol.bodies import Note
from protocol.card_bundle import verify_bundle
from protocol.codec import decode
from protocol.statement import BODY_LIMITS, check_body, statement_id, verify_signature
from tests.node.federation_helpers import db_bytes, pair, synced, wait_until


async def line(fed_net):
    a = await fed_net.start("Alpha Org")
    b = await fed_net.start("Bravo Org")
    c = await fed_net.start("Charlie Org")
    await pair(a, b)
    await pair(b, c)
    assert not c.federation.peers.get(a.service.node_id)
    assert not a.federation.peers.get(c.service.node_id)
    return a, b, c


def foreign_rows(rt, author: bytes) -> list[dict]:
    return list(rt.service.db.query("SELECT * FROM foreign_statements WHERE author = ?", [author]))


async def test_hops_2_reaches_c_via_b_and_verifies_as_a(fed_net):
    a, b, c = await line(fed_net)
    text = "MARKER-hops2-3f9a1c vacancies in the north"
    statement = a.federation.append(Note.KIND, Note(text, hops=2).to_value(), private=True)
    rows = await wait_until(lambda: foreign_rows(c, a.service.node_id), 5, what="the re-shared note at C")
    row = rows[0]
    # C knows B passed it on, at distance 2.
    assert bytes(row["via"]) == b.service.node_id
    assert row["distance"] == 2
    via_statement = c.service.log.get(bytes(row["via_statement"]))
    assert via_statement is not None and via_statement.author == b.service.node_id and via_statement.kind == "reshare"

    # Verify the root as A's with protocol code alone, from C's SQLite bytes and A's card bundle.
    with sqlite3.connect(c.service.home.db_path) as conn:
        header, signature, salt, body = conn.execute(
            "SELECT header, signature, salt, body FROM foreign_statements WHERE id = ?", [statement.id]
        ).fetchone()
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{a.service.config.url}/.well-known/orgnode") as resp:
            bundle = await resp.read()
    card = verify_bundle(bundle, expected_node_id=a.service.node_id)
    parsed = verify_signature(header, signature)  # Ed25519 under the key the header names
    assert parsed.author == a.service.node_id
    card.history.check_key(parsed.key, parsed.seq)  # protocol.log: that key is A's for this seq
    check_body(parsed, salt, body)  # the body is exactly what A signed
    assert statement_id(header) == statement.id
    assert Note.from_value(decode(body, BODY_LIMITS)) == Note(text, 2)
    assert card.card.name == "Alpha Org"

    # C does not re-share further (distance 2 == hops) and never holds A's log directly. A re-share
    # would have been appended while C applied B's statement (reactions run before the answer), so
    # checking now cannot miss it.
    assert c.service.log.head(a.service.node_id).seq == 0
    assert not list(c.service.db.query("SELECT 1 FROM reshared"))
    assert len(foreign_rows(c, a.service.node_id)) == 1


async def test_hops_1_stops_at_b(fed_net):
    a, b, c = await line(fed_net)
    text = "MARKER-hops1-7b2e55 only for direct partners"
    statement = a.federation.append(Note.KIND, Note(text, hops=1).to_value(), private=True)
    await synced(b, a)
    assert b.service.log.get(statement.id).body_value()["text"] == text
    # B reacted to A's note while applying it; anything B appended then precedes B's own next note,
    # so once C holds that note it holds everything B would have re-shared.
    b.federation.append(Note.KIND, Note("B's own note", hops=1).to_value(), private=True)
    await synced(c, b)
    assert not foreign_rows(c, a.service.node_id)
    assert c.service.log.get(statement.id) is None
    assert not list(b.service.db.query("SELECT 1 FROM reshared"))
    # Not even in C's database bytes (main file and WAL), not even as A's statement id.
    raw = db_bytes(c.service.home.path)
    assert text.encode() not in raw
    assert statement.id not in raw
    # Control: the same search does find B's own note (opened and stored at C), and the hop-1 text at B.
    assert b"B's own note" in raw
    assert text.encode() in db_bytes(b.service.home.path)

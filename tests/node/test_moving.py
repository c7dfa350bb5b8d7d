"""Moving a node (issue 10 item 3): `orgnode set-url` publishes a signed card with the new URL; a
partner follows the URL of a card from the author's own log, never one a third party re-shares."""

from __future__ import annotations

import asyncio
import json
import os

from node.cli.main import main
from node.core import resharing
from protocol.bodies import Note, OrgCard
from protocol.card_bundle import encode_bundle
from protocol.statement import sign_statement
from protocol.versions import WITHOUT_RESHARE_WANT
from tests.conftest import free_port
from tests.node.federation_helpers import pair, synced, wait_until


def peer_url(holder, of) -> str:
    peer = holder.federation.peers.get(of.service.node_id)
    assert peer is not None
    return peer.url


def held(holder, statement) -> bool:
    return holder.service.log.get(statement.id) is not None


async def cli(capsys, *argv: str) -> tuple[int, str]:
    """Run the real CLI in a thread (it talks to the admin socket of a node in this event loop)."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    return code, capsys.readouterr().out


async def test_set_url_partner_follows_to_new_port(net, capsys):
    a = await net.start("Alpha Org")
    b = await net.start("Bravo Org")
    await pair(a, b)
    # A holds B's log before B moves: a stopping node accepts no new connections (graceful drain), so a
    # first pull A had not yet started when B stopped could not fill A's gap from the old address.
    await synced(a, b)
    old_url = b.service.config.url
    identity_before = a.federation.peers.consent_identity(b.service.node_id)
    home = await net.stop(b)

    port = free_port()
    new_url = f"http://127.0.0.1:{port}"
    code, out = await cli(capsys, "set-url", new_url, "--listen", f"127.0.0.1:{port}", "--home", str(home), "--json")
    assert code == 0
    answer = json.loads(out)
    assert answer["url"] == new_url and answer["listen_changed"] is True

    b = await net.restart(home)
    assert b.service.config.url == new_url and b.service.config.listen_port == port
    posted = b.federation.append(Note.KIND, Note("MARKER moved note", 1).to_value(), private=True)
    await wait_until(lambda: held(a, posted), 10, what="A to receive B's note after the move")
    await wait_until(lambda: peer_url(a, b) == new_url, 10, what="A to follow B's new URL")
    assert old_url != new_url
    # Only the address changed: the identity consent is judged against is untouched.
    assert a.federation.peers.consent_identity(b.service.node_id) == identity_before
    # A contacts the new address (nothing listens on the old one any more): its note reaches B.
    reply = a.federation.append(Note.KIND, Note("MARKER reply after move", 1).to_value(), private=True)
    await wait_until(lambda: held(b, reply), 10, what="B to receive A's note at its new URL")
    code, out = await cli(capsys, "trust", "list", "--home", str(a.service.home.path), "--json")
    assert code == 0
    assert [p["url"] for p in json.loads(out) if p["node_id"] == b.service.node_id.hex()] == [new_url]


async def test_set_url_refuses_bad_url_and_changes_nothing(net, capsys):
    b = await net.start("Bravo Org")
    home = await net.stop(b)
    config_before = (home / "config.toml").read_bytes()
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["set-url", "http://user@example.org/", "--home", str(home)])
    assert code != 0
    assert "must be a base URL" in capsys.readouterr().err
    assert (home / "config.toml").read_bytes() == config_before
    # Positive control: a good URL is accepted and written.
    code, _ = await cli(capsys, "set-url", "https://orgnode.example.org", "--home", str(home))
    assert code == 0
    assert (home / "config.toml").read_bytes() != config_before


async def test_reshared_card_does_not_move_a_partner(net, capsys):
    # A predates lazy re-sharing, so C's re-share reaches it with its body (card included) although A
    # holds the root already; with the feature A would only be offered it, and never ask (protocol.md 14.2).
    a = await net.start("Alpha Org", versions=WITHOUT_RESHARE_WANT)
    b = await net.start("Bravo Org")
    c = await net.start("Charlie Org")
    await pair(a, b)
    await pair(a, c)
    await pair(b, c)

    # Positive control: a card in B's own log moves A (same listener, another name for it), set on
    # the running node through its admin socket, which pushes the card at once.
    moved_url = f"http://localhost:{b.service.config.listen_port}"
    code, out = await cli(capsys, "set-url", moved_url, "--home", str(b.service.home.path), "--json")
    assert code == 0 and json.loads(out)["listen_changed"] is False
    assert b.service.config.url == moved_url
    await wait_until(lambda: peer_url(a, b) == moved_url, 10, what="A to follow the card in B's own log")

    # C re-shares a note of B together with a card (signed by B, never in B's log) naming another URL.
    root = b.federation.append(Note.KIND, Note("MARKER reshared root", 3).to_value(), private=True)
    first = b.service.log.statements(b.service.node_id)[0]
    elsewhere = "http://127.0.0.9:9"
    card = OrgCard(b.service.config.name, b.service.config.sector, elsewhere, b.service.identity.encryption_public)
    crafted = sign_statement(b.service.identity, kind=OrgCard.KIND, seq=root.seq + 50, prev=os.urandom(32),
                             now=b.service.clock(), body=card.to_value(), private=False, salt=None)
    resharing.reshare(c.federation, root, encode_bundle([first, crafted]), (c.service.node_id,))
    await wait_until(lambda: list(a.service.db.query("SELECT 1 FROM org_cards WHERE node_id = ? AND url = ?",
                                                      [b.service.node_id, elsewhere])),
                     10, what="A to record the re-shared card")
    assert peer_url(a, b) == moved_url


async def test_set_url_errors_name_the_url_argument_not_an_option(net, capsys, tmp_path):
    """acc10: `orgnode set-url ftp://x` on a running node ended "(option --url)", though URL is positional;
    on a TLS node `set-url http://…` said "fix it with `orgnode set-url https://…`" (the command just run)."""
    from tests.node.test_tls import tls_fields
    from tests.tls_ca import TestCA

    b = await net.start("Bravo Org")
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["set-url", "ftp://x", "--home", str(b.service.home.path)])
    err = capsys.readouterr().err
    assert code == 1 and "must be a base URL" in err and "(option --url)" not in err, err
    ca = TestCA.create(tmp_path / "ca")
    t = await net.start("Tango Org", **tls_fields(ca, "t"))
    home = t.service.home.path
    before = (home / "config.toml").read_bytes()
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["set-url", "http://127.0.0.1:9999", "--home", str(home)])
    err = capsys.readouterr().err
    assert code == 1 and "give an https:// URL: this node serves HTTPS" in err, err
    assert "fix it with `orgnode set-url" not in err and "(option --url)" not in err
    assert (home / "config.toml").read_bytes() == before
    # Positive control: an https URL is taken.
    code, _ = await cli(capsys, "set-url", f"https://127.0.0.1:{t.service.config.listen_port}", "--home", str(home))
    assert code == 0

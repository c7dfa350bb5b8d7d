"""The log store on a real SQLite file: log rules, rejections surviving restart, migrations, pragmas."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocol.errors import BAD_BODY, MALFORMED, REJECTED_BASE, UNKNOWN_KEY, WRONG_AUTHOR, RemoteProtocolError
from protocol.log import Verdict, history_for
from protocol.statement import Envelope, Statement, sign_statement
from storage.db import MIGRATIONS, applied_migrations, connect
from storage.log_store import LogStore
from tests.protocol.helpers import T0, chain, ident, rotate


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "node.db"


@pytest.fixture
def store(path: Path) -> LogStore:
    return LogStore(connect(path))


def wire(s: Statement) -> Statement:
    """What a receiver gets: the envelope bytes, verified again."""
    return Envelope.decode(Envelope.of(s).encode()).open_plain()


def test_append_duplicate(store: LogStore) -> None:
    a = ident(1)
    s1, s2 = chain(a, 2)
    assert store.ingest(wire(s1), received_from=None, now=T0).verdict is Verdict.APPEND
    assert store.ingest(wire(s1), received_from=None, now=T0).verdict is Verdict.DUPLICATE
    assert store.ingest(wire(s2), received_from=None, now=T0).verdict is Verdict.APPEND
    assert store.count() == 2
    assert store.have_vector() == {a.node_id: 2}
    assert store.get(s2.id) == s2


def test_gap_held_then_released(store: LogStore) -> None:
    a = ident(1)
    s = chain(a, 5)
    for later in (s[4], s[2], s[3]):
        assert store.ingest(wire(later), received_from=None, now=T0).verdict is Verdict.GAP
    assert store.count() == 0
    store.ingest(wire(s[0]), received_from=None, now=T0)
    result = store.ingest(wire(s[1]), received_from=None, now=T0)
    assert [x.seq for x in result.appended] == [2, 3, 4, 5]
    assert store.head(a.node_id).id == s[4].id
    assert list(store.db.query("SELECT * FROM held")) == []


def test_fork_kept_as_evidence(store: LogStore) -> None:
    a = ident(1)
    s1, s2 = chain(a, 2)
    other = sign_statement(a, kind="note", seq=2, prev=s1.id, now=T0 + 99, body={"text": "other", "hops": 1},
                           private=True, salt=b"\x44" * 32)
    for s in (s1, s2):
        store.ingest(wire(s), received_from=None, now=T0)
    assert store.ingest(wire(other), received_from=b"\x05" * 32, now=T0).verdict is Verdict.FORK
    forks = store.forks()
    assert len(forks) == 1 and forks[0].id == other.id and forks[0].conflicts_with == s2.id
    assert store.forked_authors() == {a.node_id}
    assert store.head(a.node_id).id == s2.id


def test_prev_mismatch_is_fork(store: LogStore) -> None:
    a = ident(1)
    (s1,) = chain(a, 1)
    store.ingest(wire(s1), received_from=None, now=T0)
    bad_prev = sign_statement(a, kind="note", seq=2, prev=b"\x07" * 32, now=T0, body={"text": "x", "hops": 1},
                              private=True, salt=bytes(32))
    assert store.ingest(wire(bad_prev), received_from=None, now=T0).verdict is Verdict.FORK
    assert store.count() == 1 and len(store.forks()) == 1


def test_forged_author_rejected(store: LogStore) -> None:
    a, b = ident(1), ident(2)
    (s1,) = chain(a, 1)
    store.ingest(wire(s1), received_from=None, now=T0)
    # B signs a statement that claims A as author (signature valid for B's key).
    header_fields = dict(kind="note", seq=2, prev=s1.id, now=T0, body={"text": "x", "hops": 1}, private=True, salt=bytes(32))
    by_b = sign_statement(b, **header_fields)  # type: ignore[arg-type]
    from protocol.statement import STATEMENT_SIG_TAG, Header

    h = by_b.header
    forged_header = Header(h.version, h.kind, a.node_id, h.seq, h.prev, h.ts, h.key, h.body_hash, h.body_len, h.private)
    hb = forged_header.encode()
    forged = Envelope(hb, b.sign(STATEMENT_SIG_TAG + hb), (by_b.salt or b"", by_b.body or b"")).encode()
    with pytest.raises(RemoteProtocolError) as info:
        store.ingest(Envelope.decode(forged).open_plain(), received_from=b.node_id, now=T0)
    assert info.value.code == WRONG_AUTHOR
    assert store.count() == 1 and store.rejected()[0].code == WRONG_AUTHOR


def test_rotation(store: LogStore) -> None:
    a = ident(1)
    s1, s2 = chain(a, 2)
    rot, a2 = rotate(a, s2, b"\x09" * 32)
    (s4,) = chain(a2, 1, start=rot)
    (s4_old,) = chain(a, 1, start=rot)
    for s in (s1, s2, rot):
        assert store.ingest(wire(s), received_from=None, now=T0).verdict is Verdict.APPEND
    with pytest.raises(RemoteProtocolError) as info:
        store.ingest(wire(s4_old), received_from=None, now=T0)
    assert info.value.code == UNKNOWN_KEY
    assert store.ingest(wire(s4), received_from=None, now=T0).verdict is Verdict.APPEND
    # Old statements still verify and are still duplicates, not rejections.
    assert store.ingest(wire(s2), received_from=None, now=T0).verdict is Verdict.DUPLICATE
    assert [p.key for p in store.key_history(a.node_id).periods] == [a.signing_public, a2.signing_public]  # type: ignore[union-attr]


def test_rotation_arriving_after_its_successor(store: LogStore) -> None:
    a = ident(1)
    s1, s2 = chain(a, 2)
    rot, a2 = rotate(a, s2, b"\x09" * 32)
    (s4,) = chain(a2, 1, start=rot)
    for s in (s1, s2, s4):
        store.ingest(wire(s), received_from=None, now=T0)
    result = store.ingest(wire(rot), received_from=None, now=T0)
    assert [x.seq for x in result.appended] == [3, 4]


def test_bad_rotation_and_bad_base_survive_reopen(path: Path) -> None:
    a = ident(1)
    s1, s2 = chain(a, 2)
    bad, _ = rotate(a, s2, b"\x0a" * 32, bad=True)
    (after,) = chain(a, 1, start=bad)
    store = LogStore(connect(path))
    for s in (s1, s2):
        store.ingest(wire(s), received_from=None, now=T0)
    with pytest.raises(RemoteProtocolError) as info:
        store.ingest(wire(bad), received_from=None, now=T0)
    assert info.value.code == BAD_BODY
    assert store.count() == 2
    store.db.conn.close()

    reopened = LogStore(connect(path))
    assert reopened.is_rejected(bad.id)
    with pytest.raises(RemoteProtocolError) as info:
        reopened.ingest(wire(bad), received_from=None, now=T0)
    assert info.value.code == REJECTED_BASE
    with pytest.raises(RemoteProtocolError) as info:
        reopened.ingest(wire(after), received_from=None, now=T0)
    assert info.value.code == REJECTED_BASE
    assert reopened.is_rejected(after.id)
    assert reopened.count() == 2
    assert reopened.key_history(a.node_id).current_key == a.signing_public  # type: ignore[union-attr]


def test_rejected_held_candidate_leaves_no_partial_write(store: LogStore) -> None:
    """A held statement whose projection fails on release must not half-enter the log."""
    a = ident(1)
    s1, s2 = chain(a, 2)
    broken = sign_statement(a, kind="org_card", seq=3, prev=s2.id, now=T0, body={"name": "x"}, private=False)
    store.ingest(wire(s1), received_from=None, now=T0)
    assert store.ingest(wire(broken), received_from=None, now=T0).verdict is Verdict.GAP
    result = store.ingest(wire(s2), received_from=None, now=T0)
    assert [x.seq for x in result.appended] == [2]
    assert store.count() == 2 and store.head(a.node_id).seq == 2
    # The body matches the author's hash, so the rejection is permanent (bad-body) and remembered.
    assert [r.code for r in store.rejected()] == ["bad-body"]
    with pytest.raises(RemoteProtocolError) as info:
        store.ingest(wire(broken), received_from=None, now=T0)
    assert info.value.code == "rejected-base"
    assert store.count() == 2


def test_public_without_body_refused_not_recorded(store: LogStore) -> None:
    a = ident(1)
    (s1,) = chain(a, 1)
    with pytest.raises(RemoteProtocolError) as info:
        store.ingest(s1.without_body(), received_from=None, now=T0)
    assert info.value.code == MALFORMED
    assert not store.is_rejected(s1.id)
    assert store.ingest(wire(s1), received_from=None, now=T0).verdict is Verdict.APPEND


def test_private_withheld_then_body_filled(store: LogStore) -> None:
    a = ident(1)
    s1, s2 = chain(a, 2)
    store.ingest(wire(s1), received_from=None, now=T0)
    store.ingest(s2.without_body(), received_from=None, now=T0)
    assert store.get(s2.id).body is None  # type: ignore[union-attr]
    assert store.ingest(wire(s2), received_from=None, now=T0).verdict is Verdict.DUPLICATE
    assert store.get(s2.id).body == s2.body  # type: ignore[union-attr]


def test_org_card_projection_and_own_append(store: LogStore) -> None:
    a = ident(1)
    from tests.protocol.helpers import card

    s1 = store.append_own(a, kind="org_card", body=card(a), now=T0, private=False)
    s2 = store.append_own(a, kind="note", body={"text": "hi", "hops": 1}, now=T0 + 1, private=True, salt=b"\x01" * 32)
    assert s2.header.prev == s1.id
    rows = list(store.db.query("SELECT name, seq FROM org_cards"))
    assert rows == [{"name": "Youth Futures", "seq": 1}]


def test_migrations_recorded_and_idempotent(path: Path) -> None:
    db = connect(path)
    assert applied_migrations(db) == [name for name, _ in MIGRATIONS]
    db.conn.close()
    db = connect(path)
    assert applied_migrations(db) == [name for name, _ in MIGRATIONS]
    assert next(db.query("SELECT COUNT(*) AS n FROM migrations"))["n"] == len(MIGRATIONS)


def test_pragmas_and_integrity(path: Path) -> None:
    db = connect(path)
    store = LogStore(db)
    for s in chain(ident(1), 3):
        store.ingest(wire(s), received_from=None, now=T0)
    assert next(db.query("PRAGMA journal_mode"))["journal_mode"] == "wal"
    assert next(db.query("PRAGMA foreign_keys"))["foreign_keys"] == 1
    assert next(db.query("PRAGMA integrity_check"))["integrity_check"] == "ok"
    db.conn.close()
    db = connect(path)
    assert next(db.query("PRAGMA integrity_check"))["integrity_check"] == "ok"
    assert LogStore(db).count() == 3


def test_held_and_fork_evidence_are_bounded(store: LogStore) -> None:
    """A peer cannot make us hold statements far ahead of the log, nor keep unbounded fork evidence."""
    from storage.held import MAX_HOLD_AHEAD
    from storage.log_store import MAX_FORK_EVIDENCE_PER_AUTHOR

    a = ident(1)
    (s1,) = chain(a, 1)
    store.ingest(wire(s1), received_from=None, now=T0)
    far = sign_statement(a, kind="note", seq=MAX_HOLD_AHEAD + 10, prev=b"\x01" * 32, now=T0,
                         body={"text": "far"}, private=True, salt=b"\x02" * 32)
    with pytest.raises(RemoteProtocolError) as info:
        store.ingest(wire(far), received_from=None, now=T0)
    assert info.value.code == "gap" and not store.is_rejected(far.id)
    for i in range(MAX_FORK_EVIDENCE_PER_AUTHOR + 20):
        fork = sign_statement(a, kind="org_card", seq=1, prev=None, now=T0 + i, body=s1.body_value(), private=False)
        store.ingest(wire(fork), received_from=None, now=T0)
    assert len(store.forks()) == MAX_FORK_EVIDENCE_PER_AUTHOR


def test_learn_rotations_adopts_only_a_history_carrying_the_held_one_on(store: LogStore) -> None:
    """A key history learnt from a partner's card (node/core/key_refresh.py): adopted only if it
    extends the held one; a rotation by a rotated-away key, or a shorter history, changes nothing;
    the statements then arrive through sync and verify under it (the rotation is not applied twice)."""
    a = ident(1)
    s1, s2 = chain(a, 2)
    for s in (s1, s2):
        store.ingest(wire(s), received_from=None, now=T0)
    r3, a2 = rotate(a, s2, b"\x09" * 32)
    (s4,) = chain(a2, 1, start=r3)
    forged, _ = rotate(a, s2, b"\x0c" * 32)
    assert not store.learn_rotations(history_for(s1, []))  # nothing new
    assert store.learn_rotations(history_for(s1, [r3]))
    assert store.key_history(a.node_id) == history_for(s1, [r3])
    assert not store.learn_rotations(history_for(s1, [forged]))  # K0 -> Ka where K0 -> K1 is held
    assert not store.learn_rotations(history_for(s1, []))  # the rotated-away key is not brought back
    assert store.key_history(a.node_id) == history_for(s1, [r3])
    for s in (r3, s4):
        assert store.ingest(wire(s), received_from=None, now=T0).verdict is Verdict.APPEND
    assert store.key_history(a.node_id) == history_for(s1, [r3])


def test_a_rotation_conflicting_with_the_history_learnt_from_the_card_is_refused(store: LogStore) -> None:
    """The history held names K0 -> K1 at seq 3 (learnt from the card); a rotation K0 -> Ka at seq 3
    (made by whoever kept K0) is refused and the history is unchanged; the author's own one appends."""
    a = ident(1)
    s1, s2 = chain(a, 2)
    for s in (s1, s2):
        store.ingest(wire(s), received_from=None, now=T0)
    r3, _ = rotate(a, s2, b"\x09" * 32)
    forged, _ = rotate(a, s2, b"\x0c" * 32)
    assert store.learn_rotations(history_for(s1, [r3]))
    with pytest.raises(RemoteProtocolError) as info:
        store.ingest(wire(forged), received_from=None, now=T0)
    assert info.value.code == BAD_BODY
    assert store.key_history(a.node_id) == history_for(s1, [r3])
    assert store.ingest(wire(r3), received_from=None, now=T0).verdict is Verdict.APPEND

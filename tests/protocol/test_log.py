"""Pure log rules: verdicts and key validity, without storage."""

from __future__ import annotations

import pytest

from protocol.errors import BAD_BODY, UNKNOWN_KEY, WRONG_AUTHOR, RemoteProtocolError
from protocol.log import KeyHistory, LogHead, Verdict, check, history_for
from protocol.statement import sign_statement
from tests.protocol.helpers import chain, ident, rotate


def test_verdicts() -> None:
    a = ident(1)
    s1, s2, s3 = chain(a, 3)
    hist = KeyHistory.genesis(a.node_id, a.signing_public)
    empty = LogHead(a.node_id)
    assert check(s1, empty, None, None) is Verdict.APPEND
    assert check(s3, empty, None, None) is Verdict.GAP
    head1 = LogHead(a.node_id, 1, s1.id)
    assert check(s1, head1, hist, s1.id) is Verdict.DUPLICATE
    assert check(s2, head1, hist, None) is Verdict.APPEND
    other = sign_statement(a, kind="note", seq=2, prev=bytes(32), now=1, body={"text": "x", "hops": 1}, private=True,
                           salt=bytes(32))
    assert check(other, head1, hist, None) is Verdict.FORK  # prev mismatch
    assert check(other, LogHead(a.node_id, 2, s2.id), hist, s2.id) is Verdict.FORK


def test_forged_author_and_rotated_key() -> None:
    a, b = ident(1), ident(2)
    s1, s2 = chain(a, 2)
    forged = sign_statement(b, kind="note", seq=1, prev=None, now=1, body={}, private=False)
    forged = type(forged)(forged.header.__class__(**{**_fields(forged.header), "author": a.node_id}), b"", b"", None, None)
    with pytest.raises(RemoteProtocolError) as info:
        check(forged, LogHead(a.node_id), None, None)
    assert info.value.code == WRONG_AUTHOR
    rot, a2 = rotate(a, s2, b"\x09" * 32)
    hist = history_for(s1, [rot])
    (s4_new,) = chain(a2, 1, start=rot)
    (s4_old,) = chain(a, 1, start=rot)
    head3 = LogHead(a.node_id, 3, rot.id)
    assert check(s4_new, head3, hist, None) is Verdict.APPEND
    with pytest.raises(RemoteProtocolError) as info:
        check(s4_old, head3, hist, None)
    assert info.value.code == UNKNOWN_KEY
    hist.check_key(a.signing_public, 2)  # old statements still verify under the old key
    bad, _ = rotate(a, s2, b"\x0a" * 32, bad=True)
    with pytest.raises(RemoteProtocolError) as info:
        history_for(s1, [bad])
    assert info.value.code == BAD_BODY


def _fields(header: object) -> dict[str, object]:
    return {name: getattr(header, name) for name in header.__slots__}  # type: ignore[attr-defined]

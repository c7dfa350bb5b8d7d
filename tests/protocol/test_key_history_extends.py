"""``KeyHistory.extends``: which key history learnt from a partner's card may replace the one held
(docs/protocol.md 12.3). Only the held history carried on by more rotations; a rotation made with a
rotated-away key (another key at a seq already rotated at), a shorter or equal history, another
author or a changed earlier period is refused."""

from __future__ import annotations

from protocol.log import KeyHistory, history_for
from tests.protocol.helpers import chain, ident, rotate


def histories() -> dict[str, KeyHistory]:
    a = ident(1)
    s1, s2 = chain(a, 2)
    r3, a2 = rotate(a, s2, b"\x09" * 32)           # K0 -> K1 at seq 3
    (s4,) = chain(a2, 1, start=r3)
    r5, _ = rotate(a2, s4, b"\x0b" * 32)           # K1 -> K2 at seq 5
    r3_forged, _ = rotate(a, s2, b"\x0c" * 32)     # whoever kept K0: K0 -> Ka at seq 3
    (s3,) = chain(a, 1, start=s2)
    r4_late, _ = rotate(a, s3, b"\x0d" * 32)       # K0 -> Kb at seq 4 (K0 already closed at 3)
    other = ident(2)
    return {
        "genesis": history_for(s1, []),
        "one": history_for(s1, [r3]),
        "two": history_for(s1, [r3, r5]),
        "forged": history_for(s1, [r3_forged]),
        "late": history_for(s1, [r4_late]),
        "other": history_for(chain(other, 1)[0], [rotate(other, chain(other, 1)[0], b"\x0e" * 32)[0]]),
    }


def test_more_rotations_on_the_held_history_extend_it() -> None:
    h = histories()
    assert h["one"].extends(h["genesis"])
    assert h["two"].extends(h["genesis"])
    assert h["two"].extends(h["one"])


def test_what_does_not_carry_the_held_history_on_is_refused() -> None:
    h = histories()
    assert not h["one"].extends(h["one"])          # nothing new
    assert not h["genesis"].extends(h["one"])      # shorter: would bring a rotated-away key back
    assert not h["two"].extends(h["forged"])       # another key at seq 3 than the one held
    assert not h["forged"].extends(h["one"])       # equal length, other key
    assert not h["late"].extends(h["one"])         # the held K0 closed at 3, this one at 4
    assert not h["other"].extends(h["genesis"])    # another author
    assert h["forged"].extends(h["genesis"])       # positive control: to a holder of the genesis history only, a rotation by K0 is one (K0 is its current key)

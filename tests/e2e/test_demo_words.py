"""Issue 12 item 5: the demo speaks to people — no protocol jargon in its human output (the terms
stay in --json and the docs) — and it shows one referral id, the same one, at every step."""

from __future__ import annotations

import re

from tests.e2e.cli_helpers import orgnode

JARGON = ("sealed", "seal", "hpke", "envelope", "statement", "seq", "kem", "x25519", "rfc 9162", "genesis")


def jargon_in(text: str) -> list[str]:
    return [word for word in JARGON if re.search(rf"\b{re.escape(word)}", text, re.IGNORECASE)]


def test_the_jargon_check_catches_jargon():  # positive control: the word list and the match work
    assert jargon_in("the body was HPKE-sealed in an envelope; 3 statements, seq 4") == [
        "sealed", "seal", "hpke", "envelope", "statement", "seq"]
    assert jargon_in("encrypted so only Northwind can read it; 65 signed records") == []


def test_demo_has_no_jargon_and_one_referral_id(tmp_path):
    out = orgnode("demo", "--dir", str(tmp_path / "demo"), timeout=180).stdout
    assert "encrypted so only Northwind can read it" in out  # the plain words replaced "sealed"
    assert jargon_in(out) == [], out
    shown = re.findall(r"referral ([0-9a-f]{32})\b", out)
    assert len(shown) == 4, out  # requested, received, status changes, audit export
    assert len(set(shown)) == 1, shown

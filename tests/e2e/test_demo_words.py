"""Issue 12 item 5: the demo speaks to people — no protocol jargon in its human output (the terms
stay in --json and the docs) — and it shows one referral id, the same one, at every step. Then the
demo's three homes are started as real nodes (`orgnode run`) holding the demo's data, and the human
output of the everyday commands (status, log, referral list/pending, candidate list/report, job list,
trust list, note post/list, invite list, impact, sync, audit verify, key rotate) is checked the same
way, with the same referral id in each that shows one."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.cli_helpers import orgnode, start_node

JARGON = ("sealed", "seal", "hpke", "envelope", "statement", "seq", "kem", "x25519", "ed25519", "rfc 9162", "genesis",
          "audience", "msgpack", "body_hash", "hops=")


def jargon_in(text: str) -> list[str]:
    return [word for word in JARGON if re.search(rf"\b{re.escape(word)}", text, re.IGNORECASE)]


def test_the_jargon_check_catches_jargon():  # positive control: the word list and the match work
    assert jargon_in("the body was HPKE-sealed in an envelope; 3 statements, seq 4; audience only, hops=1") == [
        "sealed", "seal", "hpke", "envelope", "statement", "seq", "audience", "hops="]
    assert jargon_in("encrypted so only Northwind can read it; 65 signed records") == []


def test_demo_has_no_jargon_and_one_referral_id(tmp_path):
    out = orgnode("demo", "--dir", str(tmp_path / "demo"), timeout=180).stdout
    assert "encrypted so only Northwind can read it" in out  # the plain words replaced "sealed"
    assert jargon_in(out) == [], out
    shown = re.findall(r"referral ([0-9a-f]{32})\b", out)
    assert len(shown) == 5, out  # requested, received, status changes, audit export, the audit's proven referral
    assert len(set(shown)) == 1, shown
    _walk_human_commands(tmp_path / "demo", shown[0])


def _walk_human_commands(demo: Path, rid: str) -> None:
    """The demo's nodes, started for real, hold a hired referral, candidates, consents, a filled job and
    an audit bundle: every command below prints something about them, in plain words."""
    homes = {name: demo / name for name in ("youth", "northwind", "green")}
    procs = [start_node(home) for home in homes.values()]
    try:
        youth, corp = str(homes["youth"]), str(homes["northwind"])
        amina = next(line.split()[0] for line in orgnode("--home", youth, "candidate", "list").stdout.splitlines()
                     if "Amina Diallo" in line)
        commands = [
            (youth, "status"), (corp, "status"), (youth, "log"), (corp, "log"), (youth, "referral", "list"),
            (corp, "referral", "list"), (youth, "referral", "pending"), (youth, "candidate", "list"),
            (youth, "candidate", "report", amina), (corp, "job", "list"), (youth, "trust", "list"),
            (youth, "note", "post", "hello partners"), (youth, "note", "list"), (youth, "invite", "list"),
            (youth, "impact"), (corp, "impact"), (youth, "sync"), (youth, "audit", "verify", str(demo / "referral-audit.bundle")),
            (youth, "key", "rotate"),
        ]
        outputs = {}
        for home, *words in commands:
            out = orgnode("--home", home, *words).stdout
            assert out.strip(), (words, "printed nothing")  # positive control: each has something to say
            assert jargon_in(out) == [], (words, out)
            outputs[(Path(home).name, *words)] = out
        assert "entries in this node's log" in outputs[("youth", "log")] and "candidate profile" in outputs[("youth", "log")]
        for where in (("youth", "referral", "list"), ("northwind", "referral", "list")):
            assert rid in outputs[where], outputs[where]  # the one referral id, at both ends
        assert rid[:8] in outputs[("youth", "candidate", "report", amina)]
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=20)

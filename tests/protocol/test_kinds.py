"""Issue 9 item 6: one explicit kind registry, the same whichever protocol module is imported first.

Each probe runs in a fresh interpreter that imports exactly one protocol module, then asks body
parsing which kinds it knows and the registry which kinds may be re-shared.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from protocol import kinds
from protocol.errors import ProtocolError

REPO = Path(__file__).resolve().parents[2]
MODULES = sorted(p.stem for p in (REPO / "protocol").glob("*.py") if p.stem != "__init__")
EXPECTED_KINDS = {
    "org_card", "key_rotation", "note", "job", "reshare", "consent", "consent_withdrawal", "erasure_receipt",
    "referral_request", "referral_profile", "referral", "referral_status", "referral_correction", "relay", "checkpoint", "witness",
    "partnership", "impact_report",
}

# Run after importing one module only: which kinds does body parsing know, which may be re-shared?
PROBE = """
import importlib, json, sys
importlib.import_module("protocol." + sys.argv[1])
import protocol.bodies as bodies
from protocol.errors import ProtocolError
parse = getattr(bodies, "parse_body", None)
if parse is None:
    from protocol.kinds import parse_body as parse
known = []
for kind in sys.argv[2].split(","):
    try:
        parse(kind, False, {})
        known.append(kind)
    except ProtocolError as exc:
        if "unknown statement kind" not in exc.detail:
            known.append(kind)
import protocol.kinds as kinds
print(json.dumps({"known": sorted(known), "reshareable": sorted(kinds.RESHAREABLE)}))
"""


def probe(module: str) -> dict[str, list[str]]:
    out = subprocess.run([sys.executable, "-c", PROBE, module, ",".join(sorted(EXPECTED_KINDS))], cwd=REPO,
                         capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def test_registry_lists_every_kind_once():
    assert set(kinds.KINDS) == EXPECTED_KINDS
    assert kinds.RESHAREABLE == {"note", "job"}
    for kind, spec in kinds.KINDS.items():
        assert spec.kind == kind == spec.body_type.KIND
        assert spec.private == spec.body_type.PRIVATE
        assert not spec.reshareable or "hops" in spec.body_type.__dataclass_fields__  # re-sharing needs a hop limit


@pytest.mark.parametrize("module", ["bodies", "reshare", "statement"])
def test_importing_one_module_gives_the_whole_registry(module):
    """The old code knew only org_card/key_rotation/note after `import protocol.bodies`, and not that a
    job is re-shareable after `import protocol.reshare`."""
    assert probe(module) == {"known": sorted(EXPECTED_KINDS), "reshareable": ["job", "note"]}


def test_every_protocol_module_gives_the_same_registry():
    results = {module: probe(module) for module in MODULES}
    assert len(results) > 20  # positive control: the probe really ran for each module
    assert all(result == results["kinds"] for result in results.values()), results


def test_unknown_kind_and_wrong_privacy_are_the_peers_fault():
    with pytest.raises(ProtocolError, match="unknown statement kind"):
        kinds.parse_body("no_such_kind", False, {})
    with pytest.raises(ProtocolError, match="must be private"):
        kinds.parse_body("note", False, {"text": "x"})
    assert kinds.parse_body("note", True, {"text": "x"}).text == "x"

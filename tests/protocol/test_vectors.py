"""The published test vectors: recomputed from the fixed seeds, HPKE opened, and kept in sync with the spec."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from protocol.sealing import open_bytes, open_statement_body
from protocol.statement import Envelope, SealedContent
from tests.protocol import make_vectors

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
HEX = re.compile(r"^(?:[0-9a-f]{2})+$")


@pytest.fixture(scope="module")
def stored() -> dict[str, Any]:
    data = make_vectors.load()
    assert data is not None, "docs/test-vectors.json is missing: run python -m tests.protocol.make_vectors"
    return data


def test_deterministic_vectors_match(stored: dict[str, Any]) -> None:
    fresh = make_vectors.deterministic()
    for key, value in fresh.items():
        assert stored[key] == value, f"vector {key!r} differs from a fresh computation"


@pytest.mark.parametrize("index", [0, 1])
def test_hpke_decryption_vector(stored: dict[str, Any], index: int) -> None:
    vector = stored["hpke"][index]
    b = make_vectors.identity("B")
    assert vector["recipient_node_id"] == b.node_id.hex()
    sealed = SealedContent(b.node_id, vector["suite"], bytes.fromhex(vector["ciphertext"]))
    assert open_bytes(sealed, b, bytes.fromhex(vector["info"])).hex() == vector["plaintext"]
    # The same through the envelope: the signed header, the sealed content, the body check.
    envelope = Envelope.decode(bytes.fromhex(vector["envelope_sealed"]))
    assert isinstance(envelope.content, SealedContent)
    statement = open_statement_body(envelope.open_plain(), envelope.content, b)
    assert statement.id.hex() == vector["statement_id"] == stored["note"]["id"]
    assert statement.body is not None and statement.body.hex() == stored["note"]["body"]


def test_hpke_vector_stable_when_regenerated(stored: dict[str, Any]) -> None:
    """make_vectors keeps the stored ciphertexts, so rerunning it leaves the file unchanged."""
    assert make_vectors.build(stored) == stored


def _values(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _values(v)]
    if isinstance(value, list):
        return [s for v in value for s in _values(v)]
    return [value] if isinstance(value, str) else []


def test_every_hex_value_is_in_the_spec(stored: dict[str, Any]) -> None:
    doc = DOC.read_text()
    hex_values = [v for v in _values(stored) if HEX.match(v)]
    assert len(hex_values) > 40
    missing = [v[:40] for v in hex_values if v not in doc]
    assert not missing, f"docs/protocol.md lacks {len(missing)} vector values, e.g. {missing[:3]}"
    assert stored["keys"]["A"]["fingerprint"] in doc
    assert stored["keys"]["B"]["fingerprint"] in doc


def test_spec_lists_every_error_code() -> None:
    from protocol.errors import ALL_CODES

    doc = DOC.read_text()
    for code in ALL_CODES:
        assert f"| `{code}` |" in doc, code
    for heading in ("Federation requests", "Sync", "Re-sharing"):
        assert re.search(rf"^## \d+\. {heading}$", doc, re.M), heading

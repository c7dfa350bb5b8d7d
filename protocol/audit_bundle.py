"""Audit bundle format: what an exporter writes and what the verifier reads, nothing more.

An ``AuditBundle`` carries the authors' card bundles (keys and rotations), the statements exactly as
signed (bodies in clear where disclosed, header only where redacted), the referrer's log from its
first statement up to the referral (so a consent withdrawal cannot be hidden), checkpoints with
RFC 9162 inclusion and consistency proofs, and optionally an impact report. Encoding and decoding
live here, apart from the checks (``protocol.audit_checks``) and the verifier (``protocol.audit``),
so the exporter (node/core/provenance) depends on the format only.
Format: docs/audit.md and docs/protocol.md "Audit bundles".
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol import PROTOCOL_VERSION
from protocol.codec import Limits, decode, encode, expect_bytes, expect_int, expect_list, expect_map
from protocol.errors import MALFORMED, UNKNOWN_VERSION, ProtocolError, RemoteProtocolError
from protocol.statement import MAX_ENVELOPE_BYTES

BUNDLE_MAGIC = "orgnode-audit-bundle"
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
BUNDLE_LIMITS = Limits(max_bytes=MAX_BUNDLE_BYTES, max_str_len=64, max_bin_len=MAX_ENVELOPE_BYTES, max_array_len=200_000,
                       max_map_len=16, max_depth=6)

BUNDLE_FIELDS = ("subject", "exported_by", "exported_at", "cards", "statements", "proofs", "consistency", "impact")
OPTIONAL_FIELDS = ("cosignatures",)  # written only when there is one, so bundles without any are unchanged
MAX_COSIGNATURE_LINE = 512


class AuditInputError(Exception):
    """The file is not a usable bundle at all (exit status 2)."""


@dataclass(frozen=True, slots=True)
class Proof:
    statement: bytes
    checkpoint: bytes
    path: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Consistency:
    old: bytes
    new: bytes
    path: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class BundleCosignature:
    checkpoint: bytes  # id of a checkpoint statement in the bundle
    cosigner: bytes  # node id of the cosigner
    line: bytes  # the tlog-cosignature/v1 note signature line, UTF-8, newline included


@dataclass(frozen=True)
class AuditBundle:
    subject: bytes | None  # the referral id, or None for an impact-only bundle
    exported_by: bytes
    exported_at: int
    cards: tuple[bytes, ...]
    statements: tuple[bytes, ...]
    proofs: tuple[Proof, ...]
    consistency: tuple[Consistency, ...]
    impact: bytes | None  # id of the impact_report statement, if any
    cosignatures: tuple[BundleCosignature, ...] = ()

    def encode(self) -> bytes:
        extra = {"cosignatures": [[c.checkpoint, c.cosigner, c.line] for c in self.cosignatures]} if self.cosignatures else {}
        return encode([PROTOCOL_VERSION, BUNDLE_MAGIC, {
            "subject": self.subject,
            "exported_by": self.exported_by,
            "exported_at": self.exported_at,
            "cards": list(self.cards),
            "statements": list(self.statements),
            "proofs": [[p.statement, p.checkpoint, list(p.path)] for p in self.proofs],
            "consistency": [[c.old, c.new, list(c.path)] for c in self.consistency],
            "impact": self.impact,
            **extra,
        }])

    @classmethod
    def decode(cls, data: bytes) -> AuditBundle:
        try:
            raw = decode(data, BUNDLE_LIMITS)
        except ProtocolError as exc:  # the decoder's own words ("msgpack: Unpack failed…") go last, as a detail
            detail = exc.detail.removeprefix("msgpack: ").rstrip(".")
            raise AuditInputError("not a usable audit bundle: the file is cut short, damaged, or not an audit bundle "
                                  f"at all (its contents do not decode: {detail})") from exc
        try:
            items = expect_list(raw, "bundle")
            version = expect_int(items[0] if items else None, "bundle.version", 0, 255)
            if version != PROTOCOL_VERSION:
                raise RemoteProtocolError(UNKNOWN_VERSION, f"bundle version {version} is not supported")
            expect_list(items, "bundle", 3)
            if items[1] != BUNDLE_MAGIC:
                raise RemoteProtocolError(MALFORMED, "not an orgnode audit bundle")
            v = expect_map(items[2], "bundle.body")
            if not set(BUNDLE_FIELDS) <= set(v) <= set(BUNDLE_FIELDS + OPTIONAL_FIELDS):
                raise RemoteProtocolError(MALFORMED, f"bundle fields must be exactly {', '.join(BUNDLE_FIELDS)}"
                                                     f" and optionally {', '.join(OPTIONAL_FIELDS)}")
            subject = v.get("subject")
            impact = v.get("impact")
            if subject is None and impact is None:
                raise RemoteProtocolError(MALFORMED, "the bundle names neither a referral nor an impact report")
            return cls(
                subject=None if subject is None else expect_bytes(subject, "subject", 16),
                exported_by=expect_bytes(v.get("exported_by"), "exported_by", 32),
                exported_at=expect_int(v.get("exported_at"), "exported_at"),
                cards=tuple(expect_bytes(c, "cards[]") for c in expect_list(v.get("cards"), "cards")),
                statements=tuple(expect_bytes(s, "statements[]") for s in expect_list(v.get("statements"), "statements")),
                proofs=tuple(
                    Proof(expect_bytes(p[0], "proof.statement", 32), expect_bytes(p[1], "proof.checkpoint", 32),
                          tuple(expect_bytes(h, "proof.path[]", 32) for h in expect_list(p[2], "proof.path")))
                    for p in (expect_list(x, "proof", 3) for x in expect_list(v.get("proofs"), "proofs"))
                ),
                consistency=tuple(
                    Consistency(expect_bytes(c[0], "consistency.old", 32), expect_bytes(c[1], "consistency.new", 32),
                                tuple(expect_bytes(h, "consistency.path[]", 32) for h in expect_list(c[2], "consistency.path")))
                    for c in (expect_list(x, "consistency", 3) for x in expect_list(v.get("consistency"), "consistency"))
                ),
                impact=None if impact is None else expect_bytes(impact, "impact", 32),
                cosignatures=tuple(
                    BundleCosignature(expect_bytes(c[0], "cosignature.checkpoint", 32), expect_bytes(c[1], "cosignature.cosigner", 32),
                                      expect_bytes(c[2], "cosignature.line", max_len=MAX_COSIGNATURE_LINE))
                    for c in (expect_list(x, "cosignature", 3) for x in expect_list(v.get("cosignatures", []), "cosignatures"))
                ),
            )
        except ProtocolError as exc:
            raise AuditInputError(f"not a usable audit bundle: {exc.detail}") from exc


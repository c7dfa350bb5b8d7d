"""The ``cosignatures`` audit check (docs/protocol.md 20, docs/audit.md): partners' tlog-cosignature/v1
lines over the bundle's checkpoints, verified offline from the cards in the bundle.

Kept apart from ``protocol.audit_checks`` because it reads C2SP notes, not statements. A cosignature that
does not verify, or whose cosigner's card the bundle lacks (it could not be checked, so it must not be
there), fails the check by name; a checkpoint without cosignatures is reported as a note — neither
proven nor failed — and fails nothing (cosignatures strengthen a bundle; they are optional).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from protocol.audit_bundle import BundleCosignature
from protocol.c2sp_note import COSIGNATURE_TYPE_ED25519, SignedNote, checkpoint_text, key_id, origin_of, verify_cosignature
from protocol.card_bundle import VerifiedCard
from protocol.errors import ProtocolError
from protocol.provenance import Checkpoint
from protocol.statement import Statement


class CosignatureFailure(Exception):
    """A cosignature entry that fails; ``protocol.audit_checks`` reports it as the ``cosignatures`` check."""

    def __init__(self, detail: str, statement: bytes | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.statement = statement


def cosignature_facts(cosignatures: Sequence[BundleCosignature], statements: Mapping[bytes, Statement],
                      cards: Mapping[bytes, VerifiedCard], name_of: Callable[[bytes], str]) -> tuple[list[str], list[str]]:
    """Verify every entry; return the facts proven and the notes (what is absent, not wrong) to report.
    Raises ``CosignatureFailure`` on the first bad one."""
    facts: list[str] = []
    notes: list[str] = []
    verified: dict[bytes, int] = {}
    for item in cosignatures:
        statement = statements.get(item.checkpoint)
        if statement is None or statement.kind != Checkpoint.KIND or statement.body is None:
            raise CosignatureFailure("a cosignature names a checkpoint that is not in the bundle", item.checkpoint)
        if item.cosigner == statement.author:
            raise CosignatureFailure("an organization cannot cosign its own checkpoint", item.checkpoint)
        card = cards.get(item.cosigner)
        if card is None:
            raise CosignatureFailure("a cosignature is by an organization whose card is not in the bundle", item.checkpoint)
        checkpoint = Checkpoint.from_value(statement.body_value())
        text = checkpoint_text(statement.author, checkpoint.size, checkpoint.root)
        name = origin_of(item.cosigner)
        try:
            line = SignedNote.decode(text + b"\n" + item.line).signatures
            if len(line) != 1:
                raise CosignatureFailure("a cosignature entry holds more than one line", item.checkpoint)
            keys = [p.key for p in card.history.periods if key_id(name, COSIGNATURE_TYPE_ED25519, p.key) == line[0].key_id]
            if not keys or line[0].name != name:
                raise CosignatureFailure(f"a cosignature is not by a key of {name_of(item.cosigner)}", item.checkpoint)
            verify_cosignature(text, line[0], name, keys[0])
        except ProtocolError as exc:
            raise CosignatureFailure(f"a cosignature by {name_of(item.cosigner)} does not verify "
                                               f"({exc.code}: {exc.detail})", item.checkpoint) from exc
        verified[item.checkpoint] = verified.get(item.checkpoint, 0) + 1
    checkpoints = [s for s in statements.values() if s.kind == Checkpoint.KIND]
    bare = sum(1 for s in checkpoints if s.id not in verified)
    if verified:
        facts.append(f"{sum(verified.values())} cosignature(s) by partners over {len(verified)} signed summaries of a history verify")
    if bare:
        notes.append(f"{bare} of {len(checkpoints)} signed summaries of a history carry no cosignature by a partner "
                     "(cosignatures are optional extra evidence)")
    return facts, notes


"""The ``cosignatures`` audit check (docs/protocol.md 20, docs/audit.md): partners' tlog-cosignature/v1
lines over the bundle's checkpoints, verified offline from the cards in the bundle.

Kept apart from ``protocol.audit_checks`` because it reads C2SP notes, not statements. A cosignature that
does not verify fails the check by name; a checkpoint without cosignatures, or a cosigner whose card the
bundle lacks, is reported as a fact and fails nothing (cosignatures strengthen a bundle; they are optional).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from protocol.c2sp_note import COSIGNATURE_TYPE_ED25519, SignedNote, checkpoint_text, key_id, origin_of, verify_cosignature
from protocol.errors import ProtocolError
from protocol.provenance import Checkpoint

if TYPE_CHECKING:
    from protocol.audit_checks import CheckState


def check_cosignatures(state: CheckState) -> None:
    from protocol.audit_checks import AuditFailure

    verified: dict[bytes, int] = {}
    unverifiable = 0
    for item in state.bundle.cosignatures:
        statement = state.statements.get(item.checkpoint)
        if statement is None or statement.kind != Checkpoint.KIND or statement.body is None:
            raise AuditFailure("cosignatures", "a cosignature names a checkpoint that is not in the bundle", item.checkpoint)
        if item.cosigner == statement.author:
            raise AuditFailure("cosignatures", "an organization cannot cosign its own checkpoint", item.checkpoint)
        card = state.cards.get(item.cosigner)
        if card is None:
            unverifiable += 1
            continue
        checkpoint = Checkpoint.from_value(statement.body_value())
        text = checkpoint_text(statement.author, checkpoint.size, checkpoint.root)
        name = origin_of(item.cosigner)
        try:
            line = SignedNote.decode(text + b"\n" + item.line).signatures
            if len(line) != 1:
                raise AuditFailure("cosignatures", "a cosignature entry holds more than one line", item.checkpoint)
            keys = [p.key for p in card.history.periods if key_id(name, COSIGNATURE_TYPE_ED25519, p.key) == line[0].key_id]
            if not keys or line[0].name != name:
                raise AuditFailure("cosignatures", f"a cosignature is not by a key of {state.name(item.cosigner)}", item.checkpoint)
            verify_cosignature(text, line[0], name, keys[0])
        except ProtocolError as exc:
            raise AuditFailure("cosignatures", f"a cosignature by {state.name(item.cosigner)} does not verify "
                                               f"({exc.code}: {exc.detail})", item.checkpoint) from exc
        verified[item.checkpoint] = verified.get(item.checkpoint, 0) + 1
    checkpoints = [s for s in state.statements.values() if s.kind == Checkpoint.KIND]
    bare = sum(1 for s in checkpoints if s.id not in verified)
    if verified:
        state.facts.append(f"{sum(verified.values())} partner cosignatures over {len(verified)} checkpoints verify")
    if bare:
        state.facts.append(f"{bare} of {len(checkpoints)} checkpoints carry no cosignature (reported, not a failure)")
    if unverifiable:
        state.facts.append(f"{unverifiable} cosignatures are by organizations whose card is not in the bundle: not checked")

"""Who did it, sent to partners only when the admin says so (issue 14 item 2; docs/protocol.md 15.9).

A dashboard user's name is recorded with every lifecycle step here; it goes into the statement the
partner receives (``acted_by``) only when ``share_staff_names`` is on. Checked on the signed bytes the
partner holds: default off, the body has no such field (and is the same shape as before); on (the
positive control), the partner's body carries the name and its history shows it as the signer's word.
"""

from __future__ import annotations

from typing import Any

from protocol.codec import decode
from protocol.statement import BODY_LIMITS
from tests.node.federation_helpers import referred, wait_until


def body_at(node: Any, statement_id: bytes) -> dict[str, Any]:
    """The body of a statement exactly as the node holds it (the signed bytes, decoded)."""
    statement = node.service.log.get(statement_id)
    assert statement is not None and statement.body is not None
    return decode(statement.body, BODY_LIMITS)  # type: ignore[no-any-return]


async def test_staff_names_stay_here_by_default_and_reach_the_partner_only_when_shared(net):
    quiet = await net.start("Quiet Corp", sector="company")
    sharing = await net.start("Open Corp", sector="company", share_staff_names=True)
    for corp in (quiet, sharing):
        youth, rid = await referred(net, corp, f"Youth for {corp.service.config.name}")
        corp.talent.update_referral(rid, "in_process", "", acted_by="sam")
        corp.talent.update_referral(rid, "hired", "", acted_by="sam")
        corp.talent.correct_referral(rid, "not_hired", "did not start", acted_by="ria")
        await wait_until(lambda youth=youth, rid=rid: youth.talent.store.referral(rid).status == "not_hired",
                         what="the correction at the partner")
        ours = corp.talent.store.events(rid)
        assert [e.acted_by for e in ours[-3:]] == ["sam", "sam", "ria"]  # recorded here either way
        theirs = youth.talent.store.events(rid)[-3:]
        bodies = [body_at(youth, e.statement_id) for e in theirs]
        if corp is quiet:
            assert all("acted_by" not in b for b in bodies), bodies  # nothing sent: not even an empty field
            assert all(e.acted_by is None for e in theirs)
            assert "sam" not in str(youth.talent.show_referral(rid))
        else:
            assert [b.get("acted_by") for b in bodies] == ["sam", "sam", "ria"]  # positive control
            history = youth.talent.show_referral(rid)["history"]
            assert [h["acted_by"] for h in history[-3:]] == ["sam", "sam", "ria"] and not history[-1]["ours"]

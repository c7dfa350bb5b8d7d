"""Issue 8 item 3 at the figures' level: impact counts people and hires, not referral statements.

A holder on older code (or a dishonest one) can sign two ``referral`` statements of the same person
(same ``candidate_ref``) for the same job. ``compute`` — used by ``orgnode impact`` and by the
auditor recomputing an exported report — counts that person once, with the statuses of both.
"""

from __future__ import annotations

import os

from protocol.identity import Identity
from protocol.impact import compute
from protocol.referrals import Referral, ReferralStatus
from protocol.statement import Statement, sign_statement

T0 = 1_800_000_000_000


class Log:
    def __init__(self, identity: Identity) -> None:
        self.identity, self.seq, self.prev = identity, 0, None

    def sign(self, kind: str, body: object, ts: int) -> Statement:
        self.seq += 1
        statement = sign_statement(self.identity, kind=kind, seq=self.seq, prev=self.prev, now=ts, body=body, private=True,
                                   salt=os.urandom(32))
        self.prev = statement.id
        return statement


def referral(log: Log, job_author: bytes, job_id: bytes, candidate_ref: bytes, ts: int) -> tuple[Statement, bytes]:
    rid = os.urandom(16)
    body = Referral(rid, job_id, os.urandom(32), job_author, b"consent", candidate_ref, os.urandom(32))
    return log.sign(Referral.KIND, body.to_value(), ts), rid


def test_two_referral_statements_of_one_person_for_one_job_count_once():
    holder, company = Log(Identity.from_random(os.urandom)), Log(Identity.from_random(os.urandom))
    job_id, other_job = os.urandom(16), os.urandom(16)
    person, other_person = os.urandom(16), os.urandom(16)
    me = company.identity.node_id
    first, rid1 = referral(holder, me, job_id, person, T0)
    again, rid2 = referral(holder, me, job_id, person, T0 + 1000)
    other, _ = referral(holder, me, job_id, other_person, T0 + 2000)  # positive control: another person
    elsewhere, _ = referral(holder, me, other_job, person, T0 + 3000)  # and the same person to another job
    hired = company.sign(ReferralStatus.KIND, ReferralStatus(rid2, "hired", again.id).to_value(), T0 + 5000)
    figures = compute(me, [first, again, other, elsewhere, hired], 0, 2**62)
    assert figures.figures["referrals_received"] == 3
    assert figures.figures["referrals_hired"] == 1 and figures.figures["referrals_accepted"] == 1
    assert figures.partners[holder.identity.node_id.hex()] == {
        "referrals_sent_to": 0, "referrals_received_from": 3, "hires": 1, "statements_received": 4}
    # The person counts in the period of their first referral; the outcome time is taken from it.
    assert figures.figures["median_seconds_to_outcome"] == 5
    assert compute(me, [again, hired], 0, 2**62).figures["median_seconds_to_outcome"] == 4
    assert rid1 != rid2

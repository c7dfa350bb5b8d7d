"""A peer's statement is stored with its pending reaction in one transaction; a reaction that fails
(or a crash right after storing) is retried, and a retried reaction has one effect."""

from __future__ import annotations

from tests.node.federation_helpers import pair, wait_until


async def test_failed_reaction_is_retried_with_one_effect(net):
    holder = await net.start("Youth Futures", sector="nonprofit", sync_interval=60)
    corp = await net.start("Northwind", sector="company", sync_interval=60)
    await pair(holder, corp)
    job = corp.talent.post_job(title="Driver", skills=["driving"])
    await wait_until(lambda: holder.talent.store.job(job.job_id) is not None)
    candidate, _ = holder.talent.add_candidate(name="Retry Person", email="rp@example.org", skills=["driving"],
                                               consent=["refer"], consent_scope="all", consent_evidence="form")
    holder.talent.refer(candidate.candidate_id, job.job_id)

    # Fault injection: the company's referral reaction fails once, as a crash after storing would.
    real = corp.talent._on_referral
    failures = []

    def flaky(statement):
        if not failures:
            failures.append(statement.id)
            raise RuntimeError("injected fault")
        real(statement)

    corp.talent._on_referral = flaky
    await wait_until(lambda: failures, what="the referral to arrive and its reaction to fail")
    assert corp.talent.store.referrals() == []
    pending = [bytes(r["statement_id"]) for r in corp.service.db.query("SELECT statement_id FROM pending_reactions")]
    assert failures[0] in pending

    assert corp.federation.retry_reactions() >= 1
    assert len(corp.talent.store.referrals()) == 1  # recorded now
    assert not list(corp.service.db.query("SELECT 1 FROM pending_reactions WHERE statement_id = ?", [failures[0]]))
    # Retrying again has no further effect (one referral, one "received" status).
    corp.service.db.execute("INSERT INTO pending_reactions (statement_id, at) VALUES (?, 0)", [failures[0]])
    corp.federation.retry_reactions()
    assert len(corp.talent.store.referrals()) == 1
    rid = corp.talent.store.referrals()[0].referral_id
    assert [e.status for e in corp.talent.store.events(rid)] == ["sent", "received"]

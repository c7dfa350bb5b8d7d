"""Regression tests for what the issue 14 acceptance pass (round acc14) found, on real nodes over HTTP:

- After a consent was renewed the older one was still listed as "Agreed ... until ...", as if the
  candidate had agreed twice: it now reads "Replaced on <day> by a newer consent" (candidates page and
  subject-access report), and a narrower or shorter "renewal" replaces nothing.
- A referral request held because the candidate's consent had run out broke the referrals page: the
  day it ran out was read as seconds, not the node's ms (year 57,000: an error page for staff).
- Error pages named CLI commands: a request approved by a colleague a moment before ("see `orgnode
  referral list`"), a file that is not an audit bundle ("give the file `orgnode audit export` wrote").
  A core message's "see `orgnode …`" now reads "see the Referrals page" (etc.) on a web page.
"""

from __future__ import annotations

from datetime import UTC, datetime

from node.core.matching import ask_peers
from tests.node.federation_helpers import FakeClock, pair, wait_until
from tests.web.helpers import signed_in
from tests.web.test_audit_page import upload
from tests.web.test_walk_findings import held_request

DAY = 86_400_000


def consent_form(csrf: str, expires: str, *purposes: str) -> dict[str, str]:
    form = {"csrf": csrf, "consent_scope": "all", "consent_expires": expires, "consent_evidence": "signed form"}
    form.update({f"purpose-{p}": "yes" for p in purposes})
    return form


async def consent_lines(staff, path: str = "/candidates") -> list[str]:
    _, html, _ = await staff.get(path)
    return [line.split(">", 1)[1] for line in html.split("<li class=\"consent")[1:]]


async def test_a_renewed_consent_lists_the_older_one_as_replaced(net, http):
    youth = await net.start("Youth Futures")
    zoe, _ = youth.talent.add_candidate(name="Zoë Müller", email="zoe@example.org", skills=["driving"])
    staff = await signed_in(http, youth, "sam", "staff")
    csrf = await staff.token("/candidates")
    give = f"/candidates/{zoe.candidate_id.hex()}/consent"
    assert (await staff.post(give, consent_form(csrf, "2098-12-31", "match", "refer")))[0] == 303
    [first] = await consent_lines(staff)
    assert first.startswith("Agreed to be matched to jobs and be referred to employers, shared with any organization, until 31 December 2098")
    # A narrower one (match only) and a shorter one replace nothing: the first still says more.
    assert (await staff.post(give, consent_form(csrf, "2099-06-30", "match")))[0] == 303
    assert (await staff.post(give, consent_form(csrf, "2098-06-30", "match", "refer")))[0] == 303
    assert [line.startswith("Agreed") for line in await consent_lines(staff)] == [True, True, True]
    # The renewal: the same agreement for longer.
    assert (await staff.post(give, consent_form(csrf, "2099-12-31", "match", "refer")))[0] == 303
    lines = await consent_lines(staff)
    replaced = [line for line in lines if line.startswith("Replaced on ")]
    assert len(replaced) == 3 and "by a newer consent: had agreed to be matched to jobs" in replaced[0]
    assert [line for line in lines if line.startswith("Agreed")] == [lines[-1]] and "until 31 December 2099" in lines[-1]
    _, html, _ = await staff.get("/candidates")
    assert html.count("data-replaced-by=") == 3 and 'data-consent-state="given"' in html  # the state stays exact
    report = await consent_lines(staff, f"/candidates/{zoe.candidate_id.hex()}/report")
    assert sum(line.startswith("Replaced on ") for line in report) == 3
    # Both stay in force: withdrawing still withdraws every one of them.
    youth.talent.withdraw_consent(zoe.candidate_id)
    assert all(line.startswith("Withdrawn on ") for line in await consent_lines(staff))


async def test_a_request_held_by_a_consent_that_ran_out_shows_on_the_referrals_page(net, http):
    corp = await net.start("Northwind", sector="company")
    youth = await net.start("Youth Futures")
    await pair(corp, youth)
    job = corp.talent.post_job(title="Driver", skills=["driving"])
    await wait_until(lambda: youth.talent.store.job(job.job_id) is not None, what="the job at the partner")
    clock = FakeClock(follow_wall=True)
    youth.service.clock = clock
    youth.talent.add_candidate(name="Zoë Müller", email="zoe@example.org", skills=["driving"], consent=["match"],
                               consent_scope="all", consent_expires=clock() + DAY, consent_evidence="form")
    answer = await ask_peers(corp.talent, corp.client, job.job_id, deadline=5)
    [offer] = answer["results"]
    corp.talent.request_referral(job.job_id, bytes.fromhex(offer["pseudonym"]))
    await wait_until(lambda: youth.talent.pending_requests(), what="the request held at the partner")
    staff = await signed_in(http, youth, "sam", "staff")
    status, html, _ = await staff.get("/referrals")
    assert status == 200 and 'data-rule="purpose-not-given"' in html  # positive control: the page shows a held request
    clock.advance(2 * DAY)  # the session ends with the day too: sign in again
    assert await staff.sign_in("sam") == 303
    status, html, _ = await staff.get("/referrals")
    expired_on = youth.talent.store.consents(youth.talent.store.candidates()[0].candidate_id)[0].expires_at
    assert status == 200 and 'data-rule="consent-expired"' in html
    assert f"ran out on {datetime.fromtimestamp(expired_on / 1000, UTC):%Y-%m-%d}" in html


def main_text(html: str) -> str:
    return html.split("<main", 1)[1]


async def test_error_pages_point_at_pages_not_commands(net, http):
    corp, youth, _, held = await held_request(net)
    sam = await signed_in(http, youth, "sam", "staff")
    kim = await signed_in(http, youth, "kim", "staff")
    sams, kims = await sam.token("/referrals"), await kim.token("/referrals")  # both have the page open
    approve = f"/requests/{held['id']}/approve"
    assert (await sam.post(approve, {"csrf": sams, "consent_evidence": "phoned on 3 May"}))[0] == 303
    status, html, _ = await kim.post(approve, {"csrf": kims, "consent_evidence": "phoned on 3 May"})
    assert status == 400 and "already approved: the profile was sent (see the Referrals page)" in main_text(html)
    assert "orgnode" not in main_text(html) and len(youth.talent.store.referrals()) == 1  # nothing sent twice
    status, html, _ = await kim.post("/audit/check", upload(await kim.token("/audit"), b"not a bundle"))
    assert status == 400 and "not an audit bundle" in html and "“Download the bundle”" in main_text(html)
    assert "orgnode" not in main_text(html)
    # A pseudonym no match answered (a stale page): the way out is the Matches page, not `orgnode match`.
    maria = await signed_in(http, corp, "maria", "staff")
    [job] = corp.talent.list_jobs(mine=True)
    status, html, _ = await maria.post("/matches/request", {"csrf": await maria.token("/matches"), "job": job["id"],
                                                            "pseudonym": "ab" * 16})
    assert status == 400 and "run a match on the Matches page" in main_text(html) and "orgnode" not in main_text(html)

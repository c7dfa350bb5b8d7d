"""The candidates page (issue 14): real node, real HTTP. A viewer reads and filters but every change
is refused (403) and changes nothing; a form without its token is refused; staff add a candidate with
consent, record and withdraw consent, erase (only through the confirmation page) and read the
subject-access report — each checked in the node's store, not only on the page."""

from __future__ import annotations

from tests.web.helpers import signed_in

CONSENT = {"purpose-match": "yes", "purpose-refer": "yes", "consent_scope": "sector", "sector": "company",
           "consent_evidence": "signed form"}


def named(node, name: str):
    return next(c for c in node.talent.store.candidates() if c.name == name)


async def test_staff_add_a_candidate_with_consent_and_a_viewer_or_a_forged_form_cannot(net, http):
    node = await net.start("Youth Futures")
    viewer = await signed_in(http, node, "vera", "viewer")
    staff = await signed_in(http, node, "sam", "staff")
    form = {"name": "Ada <b>Lovelace</b>", "email": "ada@example.org", "skills": "driving, nursing", **CONSENT}
    status, html, _ = await viewer.get("/candidates")
    assert status == 200 and 'action="/candidates"' not in html.split('role="search"')[1]  # no add form for a viewer
    assert (await viewer.post("/candidates", {"csrf": await viewer.token("/candidates"), **form}))[0] == 403
    assert (await staff.post("/candidates", form))[0] == 403  # no token
    assert (await staff.post("/candidates", {"csrf": "0" * 32, **form}))[0] == 403  # a wrong one
    assert node.talent.store.candidates() == []
    status, html, _ = await staff.post("/candidates", {"csrf": await staff.token("/candidates"), **{**form, "consent_evidence": ""}})
    assert status == 400 and "how the candidate gave consent" in html and node.talent.store.candidates() == []
    status, _, resp = await staff.post("/candidates", {"csrf": await staff.token("/candidates"), **form})
    assert status == 303 and resp.headers["Location"] == "/candidates?done=added"
    ada = named(node, "Ada <b>Lovelace</b>")
    [consent] = node.talent.store.consents(ada.candidate_id)
    assert set(consent.purposes) == {"match", "refer"} and list(consent.scope) == ["sector:company"] and consent.evidence == "signed form"
    _, html, _ = await viewer.get("/candidates")
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in html and "<b>Lovelace" not in html


async def test_the_list_filters_searches_and_pages(net, http):
    node = await net.start("Youth Futures")
    for i in range(30):
        node.talent.add_candidate(name=f"Person {i:02d}", email=f"p{i}@example.org", skills=["driving" if i % 2 else "nursing"],
                                  medal="silver" if i == 3 else None)
    node.talent.add_candidate(name="Grace Hopper", email="grace@example.org", skills=["cobol"], consent=["refer"],
                              consent_scope="all", consent_evidence="form")
    viewer = await signed_in(http, node, "vera", "viewer")
    _, html, _ = await viewer.get("/candidates")
    assert html.count('class="card candidate"') == 25 and "Next page" in html and "Previous page" not in html
    _, html, _ = await viewer.get("/candidates?offset=25")
    assert html.count('class="card candidate"') == 6 and "Previous page" in html and "Next page" not in html
    _, html, _ = await viewer.get("/candidates?search=grace&skill=&medal=&consent=")
    assert html.count('class="card candidate"') == 1 and "Grace Hopper" in html
    _, html, _ = await viewer.get("/candidates?consent=refer")
    assert html.count('class="card candidate"') == 1 and "Grace Hopper" in html
    _, html, _ = await viewer.get("/candidates?medal=silver")
    assert html.count('class="card candidate"') == 1 and "Person 03" in html
    _, html, _ = await viewer.get("/candidates?skill=cobol")
    assert html.count('class="card candidate"') == 1
    _, html, _ = await viewer.get("/candidates?skill=driving")
    assert html.count('class="card candidate"') == 15 and "Next page" not in html
    status, html, _ = await viewer.get("/candidates?consent=maybe")
    assert status == 400 and "consent must be one of" in html


async def test_consent_give_withdraw_erase_and_the_report(net, http):
    node = await net.start("Youth Futures")
    ada, _ = node.talent.add_candidate(name="Ada Lovelace", email="ada@example.org", skills=["driving"])
    cid = ada.candidate_id.hex()
    viewer = await signed_in(http, node, "vera", "viewer")
    staff = await signed_in(http, node, "sam", "staff")
    vtoken, token = await viewer.token("/candidates"), await staff.token("/candidates")
    assert (await viewer.post(f"/candidates/{cid}/consent", {"csrf": vtoken, **CONSENT}))[0] == 403
    assert (await staff.post(f"/candidates/{cid}/consent", CONSENT))[0] == 403
    assert node.talent.store.consents(ada.candidate_id) == []
    assert (await staff.post(f"/candidates/{cid}/consent", {"csrf": token, **CONSENT}))[0] == 303
    assert [c.state for c in node.talent.store.consents(ada.candidate_id)] == ["given"]
    assert (await viewer.post(f"/candidates/{cid}/withdraw", {"csrf": vtoken}))[0] == 403
    assert [c.state for c in node.talent.store.consents(ada.candidate_id)] == ["given"]
    assert (await staff.post(f"/candidates/{cid}/withdraw", {"csrf": token}))[0] == 303
    assert [c.state for c in node.talent.store.consents(ada.candidate_id)] == ["withdrawn"]
    status, html, _ = await viewer.get(f"/candidates/{cid}/report")
    assert status == 200 and "ada@example.org" in html and "withdrawn" in html
    assert (await viewer.get(f"/candidates/{cid}/erase"))[0] == 403
    assert (await viewer.post(f"/candidates/{cid}/erase", {"csrf": vtoken, "confirm": "erase"}))[0] == 403
    status, _, resp = await staff.post(f"/candidates/{cid}/erase", {"csrf": token})  # not from the confirmation page
    assert status == 303 and resp.headers["Location"] == f"/candidates/{cid}/erase"
    assert not node.talent.store.candidate(ada.candidate_id).erased
    status, html, _ = await staff.get(f"/candidates/{cid}/erase")
    assert status == 200 and 'name="confirm" value="erase"' in html
    assert (await staff.post(f"/candidates/{cid}/erase", {"csrf": token, "confirm": "erase"}))[0] == 303
    assert node.talent.store.candidate(ada.candidate_id).erased
    _, html, _ = await viewer.get(f"/candidates/{cid}/report")
    assert "ada@example.org" not in html and "Nothing: the candidate was erased." in html

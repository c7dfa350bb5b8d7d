"""What a match answer really carries on the wire (DOMAIN.md: "Match answers carry only a pseudonym
fresh per query, a score, which requirements matched, the holder org").

Two real nodes; the holder's public URL is a TCP tap (tests/node/wire_capture.py), so the company's
real ``ask_peers`` goes through it. The raw ``/federation/v1/match`` response bytes are decoded
with a plain ``msgpack.unpackb`` — not with orgnode's own decoder — and checked field by field.
"""

from __future__ import annotations

import msgpack
import pytest

from node.core.matching import MATCH_PATH, ask_peers
from tests.node.federation_helpers import Net, pair, wait_until
from tests.node.wire_capture import http_exchanges, start_tapped

JOB_SKILLS = ["Forklift", "Team leadership", "Excel"]


@pytest.fixture
async def net(tmp_path):
    network = Net(tmp_path)
    taps = []
    network.taps = taps  # type: ignore[attr-defined]
    yield network
    await network.close()
    for tap in taps:
        await tap.close()


def match_responses(tap) -> list[bytes]:
    out = []
    for conversation in tap.conversations:
        for request, response in http_exchanges(conversation):
            if request.start_line.startswith(f"POST {MATCH_PATH} "):
                assert response is not None and response.start_line.split(" ")[1] == "200", response
                out.append(response.body)
    return out


def strings_in(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in strings_in(item)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in strings_in(k) + strings_in(v)]
    return []


async def test_match_answer_on_the_wire_is_pseudonyms_scores_and_job_labels_only(net):
    youth, tap = await start_tapped(net, "Youth Futures", "nonprofit")
    net.taps.append(tap)
    coop = await net.start("Green Works", sector="social_enterprise")
    corp = await net.start("Northwind", sector="company")
    await pair(youth, corp)
    await pair(youth, coop)
    job = corp.talent.post_job(title="Warehouse team lead", skills=JOB_SKILLS)
    await wait_until(lambda: youth.talent.store.job(job.job_id) is not None, what="job at the holder")

    def add(name: str, skills: list[str], consent: list[str] | None = None, scope: str = "all") -> bytes:
        candidate, _ = youth.talent.add_candidate(
            name=name, email=f"{name.lower().replace(' ', '.')}@example.org", phone="+44 20 7946 0000", location="Leeds, UK",
            skills=skills, medal="silver", for_job="Night shift supervisor", consent=consent, consent_scope=scope if consent else "",
            consent_evidence="signed form v3" if consent else "")
        return candidate.candidate_id

    eligible = {
        add("Amina Diallo", ["forklift", "team leadership", "first aid"], ["match", "refer"]),
        add("Bo Larsen", ["excel"], ["match"]),
        add("Chen Wei", ["forklift", "excel"], ["match"], f"sector:company node:{coop.service.node_id.hex()}"),
    }
    absent = {
        add("No Consent", ["forklift", "team leadership", "excel"]),
        add("Refer Only", ["forklift", "excel"], ["refer"]),
        add("Nonprofits Only", ["forklift", "excel"], ["match", "refer"], "sector:nonprofit"),
        add("Coop Only", ["forklift", "excel"], ["match", "refer"], f"node:{coop.service.node_id.hex()}"),
        add("No Skill Overlap", ["cooking"], ["match", "refer"]),
    }
    withdrawn = add("Changed Mind", ["forklift"], ["match", "refer"])
    youth.talent.withdraw_consent(withdrawn)
    absent.add(withdrawn)

    first = await ask_peers(corp.talent, corp.client, job.job_id, deadline=5)
    second = await ask_peers(corp.talent, corp.client, job.job_id, deadline=5)
    assert not first["partial"] and not second["partial"]

    bodies = match_responses(tap)
    assert len(bodies) == 2, "both queries crossed the tap"
    # Connections are pooled, so the tap's order need not be the queries' order: pair them by query id.
    by_query = {msgpack.unpackb(body)[1]: body for body in bodies}
    seen: dict[bytes, list[bytes]] = {}
    for report in (first, second):
        body = by_query[bytes.fromhex(report["query_id"])]
        answer = msgpack.unpackb(body)  # a plain decoder, no orgnode code
        assert isinstance(answer, list) and len(answer) == 4
        version, query_id, holder, offers = answer
        assert version == 1
        assert isinstance(query_id, bytes) and query_id.hex() == report["query_id"]
        assert holder == youth.service.node_id
        assert isinstance(offers, list) and len(offers) == len(eligible)
        for offer in offers:
            assert isinstance(offer, list) and len(offer) == 3
            alias, score, labels = offer
            assert isinstance(alias, bytes) and len(alias) == 16
            assert isinstance(score, int) and not isinstance(score, bool) and 0 < score <= 100
            assert isinstance(labels, list) and labels and all(label in JOB_SKILLS for label in labels)
            row = youth.talent.store.offer(query_id, alias)
            assert row is not None
            seen.setdefault(row.candidate_id, []).append(alias)
        # Not one string anywhere in the answer except the job's own requirement labels.
        assert set(strings_in(answer)) <= set(JOB_SKILLS)
        # And none of the candidates' personal data, in any form.
        for needle in (b"Amina", b"Diallo", b"example.org", b"7946", b"Leeds", b"first aid", b"silver", b"Night shift"):
            assert needle not in body
    assert set(seen) == eligible and not (set(seen) & absent)
    for candidate_id, aliases in seen.items():
        assert len(aliases) == 2 and aliases[0] != aliases[1], f"pseudonym reused across queries for {candidate_id.hex()}"
    # The fan-out's view (what the CLI shows) matches the wire.
    assert {bytes.fromhex(r["pseudonym"]) for r in first["results"]} == {a[0] for a in seen.values()}

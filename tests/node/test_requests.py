"""Issue 9 item 4: every admin request is validated once, by its model in node/core/requests/.

- Any JSON value given to any model's ``from_json`` gives a model or a ``UserError`` naming a field,
  never another exception (which the admin API would answer as a 500 "internal error").
- One date rule: a wrong date is refused the same way by the admin API, the CLI (``candidate add``
  and ``candidate import``) and the CSV parser, and a good one is accepted by all of them.
- Bodies the old handlers crashed on (int("x"), a number where a date goes) are a 400 naming the
  field; nothing is stored and the node keeps serving.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.cli.main import main as cli_main
from node.core import requests as R
from node.core.errors import UserError
from node.core.fields import DATE_FORM, date_ms, parse_date_ms
from node.formats.candidate_csv import parse_candidates_csv
from node.runtime import NodeRuntime

FIELDS = sorted({"id", "title", "skills", "description", "location", "remote", "hybrid", "employment_type", "salary",
                 "valid_through", "hops", "jsonld", "mine", "filled_by", "deadline", "name", "email", "phone", "medal",
                 "for_job", "notes", "consent", "consent_scope", "consent_expires", "consent_evidence", "job_id",
                 "pseudonym", "reason", "status", "candidate_id", "note", "redact", "since", "export", "ttl_ms", "sector",
                 "invite_id", "token", "node_id", "seconds", "text", "path", "force", "rows", "confirmed", "limit", "offset"})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
    | st.sampled_from(["", "all", "match,refer", "sector:nonprofit", "2027-03-31", "2027-03-31T17:00:00Z", "none",
                       "EUR 1-2/YEAR", "FULL_TIME", "9" * 400, "1e400", "nan"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
bodies = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), json_values, max_size=10)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parse=st.sampled_from(R.MODELS), body=bodies | json_values)
def test_every_model_answers_any_json_with_a_model_or_a_user_error(parse: Any, body: Any):
    try:
        model = parse(body)
    except UserError as exc:
        assert exc.field is None or exc.field in FIELDS, exc.field
        assert str(exc)
    else:
        assert type(model).__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_models_cover_every_admin_request_and_name_the_field():
    # Positive controls next to the refusals: the same bodies with the field right are accepted.
    assert R.JobPost.from_json({"title": "Driver", "skills": "driving", "hops": 3}).hops == 3
    for body, field in (({"title": "Driver", "skills": "driving", "hops": "3"}, "hops"),
                        ({"title": "Driver", "skills": "driving", "hops": 9}, "hops"),
                        ({"title": "Driver", "skills": "driving", "valid_through": 20270331}, "valid_through"),
                        ({"title": "Driver", "skills": 5}, "skills"),
                        ({"title": "Driver", "skills": "driving", "salary": "lots"}, "salary")):
        with pytest.raises(UserError) as failure:
            R.JobPost.from_json(body)
        assert failure.value.field == field, body
    assert R.NotePost.from_json({"text": "hi", "hops": 8}).hops == 8
    with pytest.raises(UserError) as note_failure:
        R.NotePost.from_json({"text": "hi", "hops": 0})
    assert note_failure.value.field == "hops"
    assert R.MatchRequest.from_json({"id": "ab" * 8}).deadline == 10.0
    for deadline in (0, -1, 301, "soon", float("inf")):
        with pytest.raises(UserError) as deadline_failure:
            R.MatchRequest.from_json({"id": "ab" * 8, "deadline": deadline})
        assert deadline_failure.value.field == "deadline"
    terms = R.ConsentGive.from_json({"id": "x", "consent": "match,refer", "consent_scope": "all,sector:company",
                                     "consent_evidence": "form"}).consent
    assert terms.purposes == ("match", "refer") and terms.scope == "all sector:company"
    for body, field in (({"id": "x", "consent": "match", "consent_evidence": "form"}, "consent_scope"),
                        ({"id": "x", "consent": "", "consent_evidence": "form"}, "consent"),
                        ({"id": "x", "consent": "sell", "consent_scope": "all"}, "consent"),
                        ({"id": "x", "consent": "match", "consent_scope": "sector:pirates"}, "consent_scope")):
        with pytest.raises(UserError) as consent_failure:
            R.ConsentGive.from_json(body)
        assert consent_failure.value.field == field, body


def test_one_date_rule():
    assert date_ms("2027-03-31", end_of_day=False) == 1_806_451_200_000
    assert date_ms("2027-03-31", end_of_day=True) == 1_806_451_200_000 + 86_399_000
    assert date_ms("2027-03-31T17:00:00Z", end_of_day=True) == date_ms("2027-03-31T19:00:00+02:00", end_of_day=True)
    for bad in ("20270331", "2027-W13-3", "31/03/2027", "2027-02-30", "2027-03-31T17:00:00", "1969-12-31", " "):
        with pytest.raises(ValueError):
            date_ms(bad, end_of_day=True)
    with pytest.raises(UserError) as failure:
        parse_date_ms(20270331, "valid_through")
    assert failure.value.field == "valid_through" and str(failure.value) == f"valid_through must be {DATE_FORM}"


async def admin(node: NodeRuntime, path: str, body: Any = None, method: str = "POST") -> tuple[int, Any]:
    connector = aiohttp.UnixConnector(path=str(node.socket_path))
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.request(method, f"http://localhost{path}", json=body) as resp:
            return resp.status, json.loads(await resp.read())


async def cli(node: NodeRuntime, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The real CLI, in a thread (its admin client blocks) against the running node's socket."""
    code = await asyncio.to_thread(cli_main, ["--home", str(node.service.home.path), *args])
    out, err = capsys.readouterr()
    return code, out, err


CSV_HEADER = "name,email,skills,consent,consent_scope,consent_expires,consent_evidence\n"


async def test_a_wrong_date_is_refused_alike_by_the_admin_api_the_cli_and_the_csv_import(net: Any, tmp_path: Path,
                                                                                           capsys: pytest.CaptureFixture[str]):
    node = await net.start("Youth Futures")
    consent = {"consent": "match,refer", "consent_scope": "all", "consent_evidence": "signed form"}
    # "20270331" was taken by the API (date.fromisoformat) and refused by the CSV import; "2027-03-31T17:00:00Z"
    # was taken by neither. Now one rule decides for all three.
    cases = [("20270331", False), ("2027-02-30", False), ("31/03/2027", False), ("2099-12-31", True), ("2099-12-31T17:00:00Z", True)]
    for index, (day, good) in enumerate(cases):
        # Admin API.
        status, data = await admin(node, "/candidates/add", {"name": "Ada Quist", "email": f"api{index}@example.org",
                                                             "skills": "driving", "consent_expires": day, **consent})
        assert (status == 200) is good, (day, data)
        if not good:
            assert data["field"] == "consent_expires" and data["detail"] == f"consent_expires must be {DATE_FORM}", data
        # CLI `candidate add`.
        code, _, err = await cli(node, capsys, "candidate", "add", "--name", "Ada Quist", "--email", f"cli{index}@example.org",
                                 "--skills", "driving", "--consent", "match,refer", "--consent-scope", "all",
                                 "--consent-evidence", "signed form", "--consent-expires", day)
        assert (code == 0) is good, (day, err)
        if not good:
            assert f"--consent-expires must be {DATE_FORM}" in err, err
        # CSV parser and CLI `candidate import`.
        text = CSV_HEADER + f"Ada Quist,csv{index}@example.org,driving,\"match,refer\",all,{day},signed form\n"
        parsed = parse_candidates_csv(text)
        rows, errors = parsed.rows, parsed.errors
        assert (len(rows) == 1) is good and [(e.column, e.message) for e in errors] == ([] if good else
                                                                                     [("consent_expires", f"must be {DATE_FORM}")])
        path = tmp_path / f"import{index}.csv"
        path.write_text(text)
        code, out, err = await cli(node, capsys, "candidate", "import", str(path), "--json")
        report = json.loads(out)
        assert report["imported"] == (1 if good else 0), (day, report)
        if not good:
            assert code == 1 and report["errors"] == [{"row": 2, "column": "consent_expires", "field": "consent_expires",
                                                      "error": f"must be {DATE_FORM}"}]
    # Nothing was recorded for a wrong date; each good one was recorded three times (API, CLI, CSV).
    held = sorted(c.email for c in node.talent.store.candidates())
    assert held == sorted(f"{way}{i}@example.org" for i in (3, 4) for way in ("api", "cli", "csv"))


async def test_bodies_the_old_handlers_crashed_on_are_refused_naming_the_field(net: Any):
    node = await net.start("Youth Futures")
    before = node.service.log.count()
    for path, body, field in (("/note", {"text": "hi", "hops": "x"}, "hops"),
                              ("/invite", {"ttl_ms": "soon"}, "ttl_ms"),
                              ("/jobs/post", {"title": "Driver", "skills": "driving", "valid_through": 20270331}, "valid_through"),
                              ("/jobs/post", {"title": "Driver", "skills": "driving", "hops": [2]}, "hops"),
                              ("/jobs/post", {"title": "Driver", "skills": "driving", "salary": 30000}, "salary"),
                              ("/candidates/add", {"name": "Ada", "email": "a@example.org", "skills": "x", "phone": 5}, "phone"),
                              ("/impact", {"since": 2026}, "since"),
                              ("/match", {"id": "ab" * 8, "deadline": "soon"}, "deadline")):
        status, data = await admin(node, path, body)
        assert status == 400 and data["error"] == "user-error" and data["field"] == field, (path, body, data)
    assert node.service.log.count() == before and node.talent.store.candidates() == []
    # Positive control: the node still serves, and the same requests with the field right are taken.
    status, data = await admin(node, "/note", {"text": "hi", "hops": 2})
    assert status == 200 and node.service.log.count() == before + 1
    status, data = await admin(node, "/jobs/post", {"title": "Driver", "skills": "driving", "valid_through": "2099-01-01"})
    assert status == 200, data


async def test_the_core_never_implies_the_widest_consent_scope(net: Any):
    """The dashboard and the demo call the core directly: a consent without a scope is refused there
    too (it used to become "all", any organization), and nothing is recorded."""
    node = await net.start("Youth Futures")
    with pytest.raises(UserError) as failure:
        node.talent.add_candidate(name="Ada Quist", email="ada@example.org", skills=["driving"], consent=["match"],
                                  consent_evidence="signed form")
    assert failure.value.field == "consent_scope" and node.talent.store.candidates() == []
    # Positive control: with a scope the same call records the candidate and the consent.
    candidate, consent = node.talent.add_candidate(name="Ada Quist", email="ada@example.org", skills=["driving"],
                                                   consent=["match"], consent_scope="sector:company", consent_evidence="signed form")
    assert consent is not None and consent.scope == ("sector:company",)
    assert [c.candidate_id for c in node.talent.store.candidates()] == [candidate.candidate_id]


def test_the_admin_client_names_the_cli_option_for_the_blamed_field():
    from node.http.admin_client import answer_error

    assert str(answer_error({"detail": "hops must be between 1 and 8", "field": "hops"}, 400)).endswith("(option --hops)")
    # The invite's lifetime is ttl_ms in the API and --expires (a duration) on the command line.
    assert str(answer_error({"detail": "an invite must expire …", "field": "ttl_ms"}, 400)).endswith("(option --expires)")
    # A machine field name in the text becomes the option; positional arguments get no option at all.
    assert str(answer_error({"detail": "recording consent needs consent_evidence (how)", "field": "consent_evidence"}, 400)) \
        == "recording consent needs --consent-evidence (how)"
    assert str(answer_error({"detail": "a note needs some text", "field": "text"}, 400)) == "a note needs some text"
    assert str(answer_error({"detail": "give the JobPosting to import", "field": "jsonld"}, 400)) == "give the JobPosting to import"

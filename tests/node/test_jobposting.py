"""schema.org JobPosting JSON-LD import/export, on Google's structured-data example and on bad inputs."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest

from node.formats.html_text import html_to_text, sanitize_html
from node.formats.jobposting import JobPostingError, job_from_jsonld
from node.formats.posting import import_posting, job_to_jsonld
from protocol.errors import RemoteProtocolError
from protocol.jobs import MAX_POSTING_BYTES, MAX_POSTING_DEPTH, Job, Location, Salary, Skill

GOOGLE = json.loads((Path(__file__).resolve().parents[1] / "data" / "google_jobposting.json").read_text())
JOB_ID = bytes(range(16))
NOW = 1_700_000_000_000
ORG = {"org_name": "Hope Works", "org_url": "https://hope.example", "node_id_hex": "ab" * 16}


def imported(data: dict, **kw) -> Job:
    return job_from_jsonld(data, job_id=JOB_ID, now=NOW, hops=kw.pop("hops", 2), **kw)


def test_google_example_fields():
    job = imported(GOOGLE)
    assert job.title == "Software Engineer"
    assert job.description.startswith("Google aspires to be an organization")
    assert "<p>" not in job.description
    assert job.date_posted == 1484697600000  # 2017-01-18T00:00Z
    assert job.valid_through == 1489795200000  # 2017-03-18T00:00 read as UTC
    assert job.employment_type == ("CONTRACTOR",)
    assert job.location == Location("Mountain View", "CA", "US", street="1600 Amphitheatre Pkwy", postal_code="94043")
    assert job.location_type == "onsite"
    assert job.salary == Salary("USD", 4000, 4000, "HOUR")  # cents: 40.00 × 100
    assert job.hops == 2 and job.version == 1 and job.status == "open"


def test_google_example_round_trip():
    job = imported(GOOGLE)
    exported = job_to_jsonld(job, **ORG)
    json.dumps(exported)  # plain JSON
    assert exported["@type"] == "JobPosting"
    assert exported["hiringOrganization"] == {"@type": "Organization", "name": "Hope Works", "sameAs": "https://hope.example",
                                              "identifier": "ab" * 16}
    assert exported["baseSalary"]["value"] == {"@type": "QuantitativeValue", "unitText": "HOUR", "value": 40}
    assert exported["jobLocation"]["address"]["addressLocality"] == "Mountain View"
    assert exported["datePosted"] == "2017-01-18"
    assert imported(exported) == job
    assert job_to_jsonld(imported(exported), **ORG) == exported


def test_rich_job_round_trips():
    job = Job(
        job_id=JOB_ID, version=1, title="Youth worker & mentor", hops=3,
        skills=(Skill("youth work"), Skill("Python", "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"),
                Skill("communication, collaboration and creativity")),
        date_posted=1_700_000_123_456, valid_through=1_710_000_000_000,
        description="First para with <b> & \"quotes\".\nSecond line.\n\nSecond para.",
        location=Location("Lyon", "Auvergne-Rhône-Alpes", "FR"), location_type="hybrid",
        employment_type=("PART_TIME", "VOLUNTEER"), salary=Salary("EUR", 2_000_050, 2_500_000, "YEAR"),
    )
    exported = job_to_jsonld(job, **ORG)
    assert exported["baseSalary"]["value"]["minValue"] == 20000.5
    assert exported["baseSalary"]["value"]["maxValue"] == 25000
    assert exported["jobLocationType"] == "TELECOMMUTE"
    assert imported(exported, hops=3) == job


def test_remote_job_uses_applicant_location_requirements():
    job = Job(job_id=JOB_ID, version=1, title="Remote data analyst", skills=(), date_posted=NOW,
              location=Location(region="Bavaria", country="DE"), location_type="remote")
    exported = job_to_jsonld(job, **ORG)
    assert "jobLocation" not in exported
    assert exported["applicantLocationRequirements"] == [{"@type": "AdministrativeArea", "name": "Bavaria"},
                                                         {"@type": "Country", "name": "DE"}]
    assert imported(exported, hops=1) == job


def test_lenient_shapes():
    data = {
        "@type": "JobPosting",
        "title": " Care &amp; support <em>worker</em> ",
        "description": "<h2>About</h2><p>We&#39;re hiring.</p><ul><li>Shifts</li><li>Driving</li></ul><script>x()</script>",
        "datePosted": "2024-05-01T09:30:00+02:00",
        "employmentType": ["full-time", "Part Time", "FULL_TIME"],
        "jobLocation": [{"@type": "Place", "address": {"addressLocality": "Leeds", "addressCountry": {"@type": "Country", "name": "GB"}}},
                        {"@type": "Place", "address": {"addressLocality": "York"}}],
        "salaryCurrency": "gbp",
        "baseSalary": {"@type": "MonetaryAmount", "value": {"minValue": "24,000", "maxValue": 27000.5, "unitText": "year"}},
        "skills": ["customer service; first aid", {"@type": "DefinedTerm", "name": "forklift", "url": "http://data.europa.eu/esco/skill/x"}],
        "occupationalCategory": "43-4051.00",
    }
    job = imported(data)
    assert job.title == "Care & support worker"
    assert job.description == "About\n\nWe're hiring.\n\n- Shifts\n- Driving"
    assert job.date_posted == 1714548600000  # 07:30 UTC
    assert job.employment_type == ("FULL_TIME", "PART_TIME")
    assert job.location == Location("Leeds", None, "GB")
    assert job.salary == Salary("GBP", 2_400_000, 2_700_050, "YEAR")
    assert job.skills == (Skill("customer service"), Skill("first aid"), Skill("forklift", "http://data.europa.eu/esco/skill/x"))
    no_date = imported({"title": "T", "skills": "a, b"})
    assert no_date.date_posted == NOW and no_date.skills == (Skill("a"), Skill("b"))
    assert imported({"title": "T", "baseSalary": {"currency": "USD", "value": 15, "unitText": "HOUR"}}).salary == Salary("USD", 1500, 1500, "HOUR")


def test_html_to_text():
    assert html_to_text("a<br>b<br/>c") == "a\nb\nc"
    assert html_to_text("<p>x</p>\n\n\n<p>y</p>") == "x\n\ny"
    assert html_to_text("5 < 6 &amp;&nbsp;ok") == "5 < 6 & ok"
    assert html_to_text("<style>p{}</style>plain") == "plain"


def _bad(**changes):
    data = copy.deepcopy(GOOGLE)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


@pytest.mark.parametrize(("changes", "field"), [
    ({"title": None}, "title"),
    ({"title": "   "}, "title"),
    ({"title": 42}, "title"),
    ({"title": "x" * 301}, "title"),
    ({"@type": "Event"}, "@type"),
    ({"description": ["a"]}, "description"),
    ({"datePosted": "18/01/2017"}, "datePosted"),
    ({"validThrough": "soon"}, "validThrough"),
    ({"employmentType": "SOMETIMES"}, "employmentType"),
    ({"employmentType": [1]}, "employmentType"),
    ({"jobLocation": "Mountain View"}, "jobLocation"),
    ({"jobLocation": {"address": 5}}, "jobLocation.address"),
    ({"baseSalary": 40}, "baseSalary"),
    ({"baseSalary": {"currency": "dollars", "value": {"value": 1, "unitText": "HOUR"}}}, "baseSalary.currency"),
    ({"baseSalary": {"currency": "USD", "value": {"value": "forty", "unitText": "HOUR"}}}, "baseSalary.value.value"),
    ({"baseSalary": {"currency": "USD", "value": {"value": 40.005, "unitText": "HOUR"}}}, "baseSalary.value.value"),
    ({"baseSalary": {"currency": "USD", "value": {"value": -1, "unitText": "HOUR"}}}, "baseSalary.value.value"),
    ({"baseSalary": {"currency": "USD", "value": {"value": 1, "unitText": "FORTNIGHT"}}}, "baseSalary.value.unitText"),
    ({"baseSalary": {"currency": "USD", "value": {"minValue": 9, "maxValue": 1, "unitText": "HOUR"}}}, "baseSalary.value"),
    ({"baseSalary": {"currency": "USD", "value": {"unitText": "HOUR"}}}, "baseSalary.value"),
    ({"skills": [{"url": "http://x"}]}, "skills"),
    ({"skills": [7]}, "skills"),
    ({"skills": ", ".join(f"s{i}" for i in range(65))}, "skills"),
])
def test_bad_inputs_name_the_field(changes, field):
    with pytest.raises(JobPostingError) as info:
        imported(_bad(**changes))
    assert info.value.field == field
    assert str(info.value).startswith(field + ":")
    assert isinstance(info.value, ValueError)


def test_not_an_object():
    with pytest.raises(JobPostingError):
        imported(["JobPosting"])  # type: ignore[arg-type]


# ---------------------------------------------------------------- issue 12 item 1: fidelity

RICH = json.loads((Path(__file__).resolve().parents[1] / "data" / "rich_jobposting.json").read_text())
UNMODELLED = ("qualifications", "educationRequirements", "experienceRequirements", "applicantLocationRequirements", "industry",
              "occupationalCategory", "workHours", "jobBenefits", "directApply", "url", "identifier", "sameAs", "hiringOrganization")


def through(document, **kw):
    """import → (the wire: the job body every receiver decodes) → export."""
    imp = import_posting(document, job_id=JOB_ID, now=NOW, hops=2, **kw)
    received = Job.from_value(imp.job.to_value())
    assert received == imp.job
    return imp, job_to_jsonld(received, **ORG)


def test_rich_posting_round_trips_every_property():
    imp, exported = through(RICH)
    assert exported == RICH  # every property as it came, modelled ones included (unchanged since import)
    assert exported["jobLocationType"] == "TELECOMMUTE" and exported["hiringOrganization"]["logo"] == "https://example.org/logo.png"
    assert exported["identifier"]["value"] == "OF-2026-117" and exported["sameAs"] == RICH["sameAs"]
    assert "<strong>field reports</strong>" in exported["description"]
    assert set(UNMODELLED) <= set(imp.kept) and imp.ignored == ()
    job = imp.job
    assert job.location_type == "hybrid" and job.location == Location("Lyon", "Auvergne-Rhône-Alpes", "FR")
    assert job.description.startswith("About the role\n\nYou will turn field reports into decisions.")  # plain text for terminals
    assert [s.label for s in job.skills] == ["data analysis", "Python"]


def test_google_example_round_trips_with_skills_added():
    imp, exported = through(GOOGLE, skills=(Skill("software engineering"),))
    assert exported["skills"] == [{"@type": "DefinedTerm", "name": "software engineering"}]
    assert {k: v for k, v in exported.items() if k != "skills"} == GOOGLE
    assert sorted(imp.kept) == ["hiringOrganization", "identifier"]


def test_a_changed_field_is_ours_and_the_rest_stays():
    imp, _ = through(RICH)
    changed = dataclasses.replace(imp.job, version=2, title="Senior community data analyst", salary=None)
    exported = job_to_jsonld(changed, **ORG)
    assert exported["title"] == "Senior community data analyst"
    assert "baseSalary" not in exported
    assert {k: v for k, v in exported.items() if k not in ("title", "baseSalary")} == {
        k: v for k, v in RICH.items() if k not in ("title", "baseSalary")}


def test_telecommute_without_a_place_is_remote_and_kept():
    data = {"@type": "JobPosting", "title": "Remote analyst", "skills": "sql", "jobLocationType": "TELECOMMUTE",
            "applicantLocationRequirements": {"@type": "Country", "name": "DE"}}
    imp, exported = through(data)
    assert imp.job.location_type == "remote" and imp.job.location == Location(country="DE")
    assert exported["jobLocationType"] == "TELECOMMUTE"
    assert exported["applicantLocationRequirements"] == {"@type": "Country", "name": "DE"}
    assert "applicantLocationRequirements" not in imp.kept  # it is what the job matches on


@pytest.mark.parametrize("payload", [
    '<p>hi</p><script>alert(1)</script>',
    '<p>hi<img src=x onerror="alert(1)"></p>',
    '<p>hi <a href="javascript:alert(1)">x</a></p>',
    '<p onmouseover="alert(1)">hi</p><iframe src="https://evil.example"></iframe>',
    '<p>hi</p><style>body{display:none}</style><svg onload=alert(1)></svg>',
])
def test_xss_in_descriptions_is_sanitised_and_reported(payload):
    imp, exported = through({"@type": "JobPosting", "title": "T", "skills": "a", "description": payload})
    for out in (exported["description"], json.loads(imp.job.posting)["description"]):
        low = out.lower()
        assert "<script" not in low and "onerror" not in low and "javascript:" not in low and "<iframe" not in low
        assert "onmouseover" not in low and "onload" not in low and "<style" not in low and "<img" not in low
        assert "hi" in out  # positive control: the text itself stays
    assert imp.ignored and all(item.startswith("description: ") for item in imp.ignored)
    assert "alert" not in imp.job.description


def test_links_keep_safe_schemes_and_get_rel():
    clean = sanitize_html('<a href="https://e.example/x" target="_blank">a</a> <a href="mailto:j@e.example">m</a> <a href="data:text/html,x">d</a>')
    assert clean == ('<a href="https://e.example/x" rel="noopener nofollow">a</a> <a href="mailto:j@e.example" rel="noopener nofollow">m</a>'
                     ' <a rel="noopener nofollow">d</a>')


def test_a_partners_posting_is_sanitised_again_on_export():
    """A posting that arrives in a partner's job body is the partner's text: export sanitises it again."""
    hostile = json.dumps({"@type": "JobPosting", "title": "T", "skills": "a", "description": "<p>x</p><script>alert(1)</script>",
                          "url": "javascript:alert(1)", "industry": "care"})
    job = Job(job_id=JOB_ID, version=1, title="T", skills=(Skill("a"),), date_posted=NOW, description="x", posting=hostile)
    exported = job_to_jsonld(Job.from_value(job.to_value()), **ORG)
    assert exported["description"] == "<p>x</p>" and "url" not in exported
    assert exported["industry"] == "care"  # positive control


@pytest.mark.parametrize(("path", "value"), [
    (("url",), "javascript:alert(1)"),
    (("hiringOrganization", "logo"), "data:image/svg+xml,<svg onload=alert(1)>"),
    (("sameAs",), "vbscript:x"),
])
def test_unsafe_urls_are_refused_naming_the_property(path, value):
    data = copy.deepcopy(RICH)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(JobPostingError) as info:
        import_posting(data, job_id=JOB_ID, now=NOW, hops=1)
    assert info.value.field == ".".join(path) and "http" in info.value.message


def test_graph_document_and_script_blocks():
    graph = {"@context": "https://schema.org", "@graph": [{"@type": "WebPage", "name": "Careers"},
                                                           {"@type": "Organization", "name": "Open Futures"}, RICH]}
    imp, exported = through(graph)
    assert exported == RICH
    assert sorted(imp.ignored) == ["1 Organization node (not a JobPosting)", "1 WebPage node (not a JobPosting)"]

    page = ('<!doctype html><html><head><title>Jobs</title><script type="application/ld+json">'
            + json.dumps({"@context": "https://schema.org", "@type": "BreadcrumbList"}) + '</script>'
            '<script type="application/ld+json">' + json.dumps(RICH) + '</script>'
            '<script>var notJson = 1;</script></head><body><p>Hello</p></body></html>')
    imp, exported = through(None, page=page)
    assert exported == RICH and imp.ignored == ("1 BreadcrumbList node (not a JobPosting)",)
    with pytest.raises(JobPostingError, match="no <script"):
        import_posting(None, page="<html><body>no data</body></html>", job_id=JOB_ID, now=NOW, hops=1)


def test_several_postings_are_refused_naming_how_many():
    second = copy.deepcopy(RICH) | {"title": "Second job"}
    for document in ([RICH, second], {"@graph": [RICH, second, {"@type": "WebPage"}]}):
        with pytest.raises(JobPostingError) as info:
            import_posting(document, job_id=JOB_ID, now=NOW, hops=1)
        assert info.value.field == "document" and "holds 2 JobPosting objects" in info.value.message
        assert "Community Data Analyst; Second job" in info.value.message
    imp, _ = through([RICH])  # positive control: an array of one
    assert imp.job.title == RICH["title"]
    with pytest.raises(JobPostingError, match="no JobPosting"):
        import_posting({"@graph": [{"@type": "WebPage"}]}, job_id=JOB_ID, now=NOW, hops=1)


def test_size_and_depth_bounds():
    big = copy.deepcopy(RICH) | {"jobBenefits": "x" * MAX_POSTING_BYTES}
    with pytest.raises(JobPostingError) as info:
        import_posting(big, job_id=JOB_ID, now=NOW, hops=1)
    assert info.value.field == "document" and f"at most {MAX_POSTING_BYTES}" in info.value.message
    deep: dict = {"x": 1}
    for _ in range(MAX_POSTING_DEPTH + 2):
        deep = {"a": deep}
    with pytest.raises(JobPostingError, match="nested deeper"):
        import_posting(copy.deepcopy(RICH) | {"industry": deep}, job_id=JOB_ID, now=NOW, hops=1)
    # What a receiver checks of a peer's posting (docs/protocol.md 15.2).
    base = {"job_id": JOB_ID, "version": 1, "title": "T", "skills": [], "date_posted": NOW}
    for posting, problem in ((json.dumps(["JobPosting"]), "not a JSON object"), ("{", "not JSON"),
                             (json.dumps({"@type": "Event"}), "not a JobPosting"),
                             (json.dumps({"@type": "JobPosting", "d": deep}), "nested deeper"),
                             ("x" * (MAX_POSTING_BYTES + 1), "longer than")):
        with pytest.raises(RemoteProtocolError, match=problem):
            Job.from_value(base | {"posting": posting})
    assert Job.from_value(base | {"posting": json.dumps({"@type": "JobPosting"})}).posting  # positive control


def test_graph_references_are_resolved_into_the_posting():
    """Acceptance (issue 12 item 1): an @graph document — what WordPress/Yoast pages emit — names the
    hiring organization and the place by ``@id`` reference. The exported posting must carry them, not a
    dangling ``{"@id": "#org"}`` that no reader of the export can resolve, and the place must be read."""
    org = {"@type": "Organization", "@id": "#org", "name": "Cedar Hiring", "logo": "https://cedar.example/logo.png"}
    place = {"@type": "Place", "@id": "#leeds", "address": {"@type": "PostalAddress", "addressLocality": "Leeds",
                                                             "addressCountry": "GB"}}
    page = {"@type": "WebPage", "@id": "#page", "name": "Jobs", "mainEntity": {"@id": "#job"}}
    posting = {"@type": "JobPosting", "@id": "#job", "title": "Bookkeeper", "skills": "bookkeeping",
               "hiringOrganization": {"@id": "#org"}, "jobLocation": {"@id": "#leeds"}, "mainEntityOfPage": {"@id": "#page"}}
    imp, exported = through({"@context": "https://schema.org", "@graph": [org, place, page, posting]})
    assert exported["hiringOrganization"] == org
    assert exported["jobLocation"] == place and imp.job.location == Location("Leeds", country="GB")
    assert exported["mainEntityOfPage"]["name"] == "Jobs"
    assert exported["mainEntityOfPage"]["mainEntity"] == {"@id": "#job"}  # a cycle stays a reference
    assert imp.ignored == ()  # every other node was used, none dropped
    imp, exported = through({"@graph": [posting | {"hiringOrganization": {"@id": "#elsewhere"}}]})
    assert exported["hiringOrganization"] == {"@id": "#elsewhere"}  # positive control: an unknown reference is kept as it came

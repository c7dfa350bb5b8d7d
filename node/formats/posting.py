"""The original JobPosting a job carries (``Job.posting``, docs/protocol.md 15.2): reading input documents
(a posting, an ``@graph``, an array, an HTML page's ld+json blocks), checking and sanitising the original,
and exporting it back with the job's modelled fields merged in (docs/cli.md, "JobPosting JSON-LD").
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from node.formats.html_text import dropped_markup, html_to_text, sanitize_html
from node.formats.jobposting import (
    JobPostingError,
    _applicant_requirements,
    _employment_types,
    _first_place,
    _parse_time,
    _salary,
    _skills,
    _str,
    _telecommute,
    _text,
    generated_jsonld,
    job_from_jsonld,
)
from node.formats.json_text import UnusableJson, loads_checked, loads_or_none
from protocol.jobs import MAX_POSTING_BYTES, MAX_POSTING_DEPTH, Job, Location, Skill, has_lone_surrogate, json_depth


def job_to_jsonld(job: Job, *, org_name: str, org_url: str, node_id_hex: str) -> dict[str, Any]:
    """One JSON-LD JobPosting for ``job``: its original posting, when it carries one, with this version's
    modelled fields merged back.

    A group of modelled properties (the title; the description; the dates; the employment type; the
    place, ``jobLocationType`` and ``applicantLocationRequirements``; the salary; the skills) is written
    as the original spelt it when it still reads as this version's value (import → export gives the
    document back), and as we generate it when the job was changed since (``job update``) or the original
    lacked it. Everything else of the original goes out as it came, after the same sanitising as on
    import: the posting may be a partner's text.
    """
    ours = generated_jsonld(job, org_name=org_name, org_url=org_url, node_id_hex=node_id_hex)
    original = _original(job.posting)
    if original is None:
        return ours
    out = dict(original)
    for group, reads_same in _GROUPS:
        if not (any(k in original for k in group) and _same(reads_same, original, job)):
            for key in group:
                out.pop(key, None)
            out.update({k: ours[k] for k in group if k in ours})
    for key in ("@context", "identifier", "hiringOrganization"):
        out.setdefault(key, ours[key])
    return out


def _original(posting: str | None) -> dict[str, Any] | None:
    """A job's stored posting, sanitised again (a partner's text); None when there is none or it is unusable."""
    if posting is None:
        return None
    value = loads_or_none(posting)
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("description"), str):
        value["description"] = sanitize_html(value["description"])
    for path in unsafe_urls(value):
        _drop(value, path)
    return value


def _same(reads_same: Any, original: dict[str, Any], job: Job) -> bool:
    try:
        return bool(reads_same(original, job))
    except JobPostingError:
        return False


def _location_of(data: dict[str, Any]) -> tuple[Location, str]:
    place = _first_place(data.get("jobLocation"))
    if _telecommute(data.get("jobLocationType")):
        if not place.text():
            return _applicant_requirements(data.get("applicantLocationRequirements")), "remote"
        return place, "hybrid"
    return place, "onsite"


def _opt_time(data: dict[str, Any], key: str) -> int | None:
    return _parse_time(data[key], key) if data.get(key) else None


# (properties, does the original's spelling still read as this job's value?)
_GROUPS: tuple[tuple[tuple[str, ...], Any], ...] = (
    (("title",), lambda d, j: _text(d.get("title"), "title") == j.title),
    (("description",), lambda d, j: html_to_text(sanitize_html(_str(d.get("description", ""), "description"))) == j.description),
    (("datePosted",), lambda d, j: _opt_time(d, "datePosted") == j.date_posted),
    (("validThrough",), lambda d, j: _opt_time(d, "validThrough") == j.valid_through),
    (("employmentType",), lambda d, j: _employment_types(d.get("employmentType")) == j.employment_type),
    (("jobLocation", "jobLocationType", "applicantLocationRequirements"),
     lambda d, j: _location_of(d) == (j.location, j.location_type)),
    (("baseSalary", "salaryCurrency"), lambda d, j: _salary(d.get("baseSalary"), d.get("salaryCurrency")) == j.salary),
    (("skills",), lambda d, j: _skills(d.get("skills")) == j.skills),
)
MODELLED = frozenset(k for group, _ in _GROUPS for k in group) - {"applicantLocationRequirements"}


# ---------------------------------------------------------------- URLs of the posting

URL_KEYS = frozenset({"url", "logo", "sameAs", "image", "applicationUrl"})


def unsafe_urls(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Paths of URL properties (``url``, ``logo``, ``sameAs``…) anywhere in ``value`` that are text but
    not http(s): a ``javascript:`` or ``data:`` logo must not reach a page that links to it."""
    found: list[tuple[str | int, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        here = (*path, key)
        under_url_key = key in URL_KEYS or (isinstance(key, int) and path and path[-1] in URL_KEYS)
        if isinstance(child, str) and under_url_key and not re.match(r"^https?://", child.strip(), re.IGNORECASE):
            found.append(here)
        else:
            found.extend(unsafe_urls(child, here))
    return found


def _drop(value: Any, path: tuple[str | int, ...]) -> None:
    for key in path[:-1]:
        value = value[key]
    if isinstance(value, dict):
        value.pop(path[-1], None)
    else:
        value[path[-1]] = None


def _dotted(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


# ---------------------------------------------------------------- input documents


class _LdJsonScripts(HTMLParser):
    """The text of every ``<script type="application/ld+json">`` of an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.blocks: list[str] = []
        self._inside: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        kind = (dict(attrs).get("type") or "").split(";")[0].strip().lower()
        if tag == "script" and kind == "application/ld+json":
            self._inside = []

    def handle_data(self, data: str) -> None:
        if self._inside is not None:
            self._inside.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._inside is not None:
            self.blocks.append("".join(self._inside))
            self._inside = None


def documents_in_page(page: str) -> tuple[list[Any], list[str]]:
    """The JSON documents of a page's ld+json script blocks, and what was ignored (unreadable blocks)."""
    parser = _LdJsonScripts()
    parser.feed(page)
    parser.close()
    if not parser.blocks:
        raise JobPostingError("document", 'the HTML page has no <script type="application/ld+json"> block')
    documents, ignored = [], []
    for number, block in enumerate(parser.blocks, 1):
        try:
            documents.append(loads_checked(block))
        except UnusableJson as exc:
            ignored.append(f"script block {number}: not usable JSON ({str(exc).split(' (')[0].removeprefix('it ')})")
    return documents, ignored


def _types(node: Any) -> list[Any]:
    types = node.get("@type") if isinstance(node, dict) else None
    return types if isinstance(types, list) else [types]


def find_postings(document: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """The JobPosting objects of a bare object, an ``@graph`` document or an array of either, and a note
    for every other node met (ignored, by type)."""
    postings: list[dict[str, Any]] = []
    others: dict[str, int] = {}
    stack: list[tuple[Any, Any]] = [(document, None)]
    while stack:
        node, context = stack.pop(0)
        if isinstance(node, list):
            stack[0:0] = [(item, context) for item in node]
        elif isinstance(node, dict) and isinstance(node.get("@graph"), list):
            stack[0:0] = [(item, node.get("@context", context)) for item in node["@graph"]]
        elif isinstance(node, dict) and "JobPosting" in _types(node):
            postings.append(node if "@context" in node or context is None else {"@context": context} | node)
        elif isinstance(node, dict) and "@type" not in node and "title" in node and document is node:
            postings.append(node)  # a bare object without @type, as the first release accepted
        else:
            name = ", ".join(str(t) for t in _types(node) if t) or type(node).__name__
            others[name] = others.get(name, 0) + 1
    nodes = _nodes_by_id(document)
    used: set[str] = set()
    postings = [_resolved(posting, nodes, used, frozenset()) for posting in postings]
    for node_id in used:
        name = ", ".join(str(t) for t in _types(nodes[node_id]) if t) or "dict"
        if "JobPosting" not in _types(nodes[node_id]) and others.get(name):
            others[name] -= 1
    ignored = [f"{count} {name} {'node' if count == 1 else 'nodes'} (not a JobPosting)" for name, count in others.items() if count]
    return postings, ignored


def _nodes_by_id(document: Any) -> dict[str, dict[str, Any]]:
    """The top-level nodes of a document (its ``@graph`` items, an array's items) that have an ``@id``."""
    found: dict[str, dict[str, Any]] = {}
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            if isinstance(node.get("@graph"), list):
                stack.extend(node["@graph"])
            if isinstance(node.get("@id"), str) and len(node) > 1:
                found.setdefault(node["@id"], node)
    return found


def _resolved(value: Any, nodes: dict[str, dict[str, Any]], used: set[str], inside: frozenset[str]) -> Any:
    """``value`` with every bare reference (``{"@id": X}``) to a node of the same document replaced by that
    node: an ``@graph`` posting (WordPress/Yoast pages) names its ``hiringOrganization`` and places by
    reference, and the posting a job carries must stand on its own. A reference to a node it is already
    inside (a cycle) or to a node the document lacks stays as it came."""
    if isinstance(value, list):
        return [_resolved(item, nodes, used, inside) for item in value]
    if not isinstance(value, dict):
        return value
    ref = value.get("@id")
    if len(value) == 1 and isinstance(ref, str) and ref in nodes and ref not in inside:
        used.add(ref)
        return _resolved(nodes[ref], nodes, used, inside | {ref})
    here = inside | {ref} if isinstance(ref, str) else inside
    return {key: _resolved(child, nodes, used, here) for key, child in value.items()}


def one_posting(document: Any, page: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """The one JobPosting of an input (a JSON document, or an HTML page's script blocks), and what was ignored.

    Several postings are refused, naming how many: one import is one job, and picking one silently
    would drop the others.
    """
    ignored: list[str] = []
    if page is not None:
        document, ignored = documents_in_page(page)
    postings, others = find_postings(document)
    ignored += others
    if not postings:
        if isinstance(document, dict) and not isinstance(document.get("@graph"), list) and page is None:
            raise JobPostingError("@type", "is not JobPosting")
        raise JobPostingError("document", "holds no JobPosting object" + (f" (found: {'; '.join(ignored)})" if ignored else ""))
    if len(postings) > 1:
        titles = "; ".join(str(p.get("title", "?"))[:60] for p in postings[:5])
        raise JobPostingError("document", f"holds {len(postings)} JobPosting objects ({titles}): one import is one job, "
                                          "so put each posting in its own file")
    return postings[0], ignored


# ---------------------------------------------------------------- the import


@dataclass(frozen=True, slots=True)
class Imported:
    """A job built from a posting, and what the admin is told: properties carried but not used for
    matching (``kept``), and what was dropped (``ignored``: other nodes, unsafe markup and URLs)."""

    job: Job
    kept: tuple[str, ...]
    ignored: tuple[str, ...]


def import_posting(document: Any, *, job_id: bytes, now: int, hops: int, page: str | None = None,
                   skills: tuple[Skill, ...] = ()) -> Imported:
    """A Job from an input document, carrying the sanitised original as its ``posting``.

    ``skills`` (given by the admin) replace the posting's own. The original is checked (a JSON object,
    at most ``MAX_POSTING_DEPTH`` deep and ``MAX_POSTING_BYTES`` as JSON once sanitised) before it is
    read; its description is sanitised, and URL properties that are not http(s) are refused.
    """
    posting, ignored = one_posting(document, page)
    if has_lone_surrogate(posting):
        raise JobPostingError("document", "holds a lone surrogate escape (\\ud800-\\udfff not in a pair), which is not Unicode text")
    if json_depth(posting) > MAX_POSTING_DEPTH:
        raise JobPostingError("document", f"is nested deeper than {MAX_POSTING_DEPTH} levels")
    bad = unsafe_urls(posting)
    if bad:
        raise JobPostingError(_dotted(bad[0]), "must be an http:// or https:// URL")
    clean = dict(posting)
    if isinstance(posting.get("description"), str):
        clean["description"] = sanitize_html(posting["description"])
        ignored += [f"description: {item} removed" for item in dropped_markup(posting["description"])]
    text = json.dumps(clean, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    size = len(text.encode())
    if size > MAX_POSTING_BYTES:
        raise JobPostingError("document", f"is {size} bytes as JSON; a job carries at most {MAX_POSTING_BYTES}: "
                                          "shorten the description or remove properties")
    job = job_from_jsonld(clean, job_id=job_id, now=now, hops=hops)
    job = dataclasses.replace(job, skills=skills or job.skills, posting=text)
    kept = sorted(k for k in clean if k not in MODELLED and not k.startswith("@"))
    if isinstance(clean.get("jobLocation"), list) and len(clean["jobLocation"]) > 1:
        kept.append(f"jobLocation (places after the first: {len(clean['jobLocation']) - 1})")
    if job.location_type == "remote" and "applicantLocationRequirements" in kept:
        kept.remove("applicantLocationRequirements")
    return Imported(job, tuple(kept), tuple(ignored))

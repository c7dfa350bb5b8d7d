"""The ESCO-derived skill vocabulary: synonyms, folding, overlay, and what it does to match scores."""

from __future__ import annotations

import time

import pytest

from node.formats.skills_vocab import build_vocabulary, load_vocabulary
from protocol.matching import Vocabulary, score

ESCO = "http://data.europa.eu/esco/skill/"
PYTHON = ESCO + "ccd0a1d9-afda-43d9-b901-96344886e14d"
PROJECT_MANAGEMENT = ESCO + "7111b95d-0ce3-441a-9d92-4c75d05c4388"


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    started = time.perf_counter()
    v = load_vocabulary()
    elapsed = time.perf_counter() - started
    print(f"load_vocabulary: {elapsed:.3f} s, {len(v.concepts)} labels")  # measured, not asserted (target < 1 s)
    return v


def test_loads_a_large_table_once(vocab):
    assert len(vocab.concepts) > 50_000
    assert load_vocabulary() is vocab


def test_python_and_python_programming_are_one_concept(vocab):
    python = vocab.concept("Python")
    assert python.key == PYTHON and python.uri == PYTHON
    assert python.label == "Python (computer programming)"
    assert vocab.concept("python programming") == python
    assert vocab.concept("Python3") == python  # an ESCO alternative label


def test_case_and_accents_fold(vocab):
    assert vocab.concept("  PYTHÖN ") == vocab.concept("python")
    assert vocab.concept("Customer Service").key == vocab.concept("customer service").key
    assert not vocab.concept("Customer Service").key.startswith("text:")


def test_esco_alternative_label_maps_to_its_preferred_concept(vocab):
    concept = vocab.concept("use a forklift")  # alt label of "operate forklift"
    assert concept.label == "operate forklift"
    assert concept.uri is not None and concept.uri.startswith(ESCO)
    assert vocab.concept("customer support").label == "customer service"


def test_overlay_short_forms(vocab):
    assert vocab.concept("js").label == "JavaScript"
    assert vocab.concept("Excel").label == "use spreadsheets software"
    assert vocab.concept("forklift").label == "operate forklift"
    assert vocab.concept("manage projects").key == PROJECT_MANAGEMENT
    assert vocab.concept("perform project management").key == PROJECT_MANAGEMENT  # same_as fold
    youth = vocab.concept("Youth work")
    assert youth.key == "orgnode:youth-work" and youth.uri is None
    assert vocab.concept("working with young people") == youth
    assert vocab.concept("social work").key == "orgnode:social-work"


def test_scoring_with_and_without_the_vocabulary(vocab):
    job = ["Python", "Project management"]
    candidate = ["python programming", "manage projects"]
    with_vocab = score(job, candidate, vocab)
    assert with_vocab.score == 100
    assert with_vocab.matched == ("Python", "Project management")
    assert score(job, candidate, Vocabulary()).score < 100


def test_unknown_labels_still_match_as_text(vocab):
    assert vocab.concept("Underwater basket weaving").key == "text:underwater basket weaving"
    assert score(["Underwater basket weaving"], ["underwater basket-weaving"], vocab).score == 100


SMALL_ESCO = {
    "uri_prefix": "u:",
    "concepts": [
        ["a", "Alpha (thing)", ["first", "shared"]],
        ["b", "Beta", ["second", "shared"]],
        ["c", "Gamma", ["beta"]],
    ],
}


def test_priority_and_ambiguity_rules():
    v = build_vocabulary(SMALL_ESCO)
    assert v.concept("first").key == "u:a"
    assert v.concept("alpha").key == "u:a"  # head of a qualified preferred label
    assert v.concept("beta").key == "u:b"  # a preferred label beats another concept's alt label
    assert v.concept("shared").key == "text:shared"  # ambiguous alt label: left out
    folded = build_vocabulary(SMALL_ESCO, {"same_as": {"Beta": ["Alpha (thing)"]}})
    assert folded.concept("shared").key == "u:b"  # no longer ambiguous once folded
    assert folded.concept("first").label == "Beta"


def test_overlay_targets_must_resolve():
    with pytest.raises(ValueError, match="Delta"):
        build_vocabulary(SMALL_ESCO, {"aliases": {"Delta": ["d"]}})


# --- issue 11 (memory): the node reads the vocabulary from a shipped SQLite image ----------------


def test_shipped_database_maps_every_label_as_the_data_does():
    """data/skills_vocab.sqlite.gz is build_vocabulary's mapping exactly (regenerate it with
    `python -m node.formats.skills_vocab` when the JSON changes)."""
    from node.formats.skills_vocab import build_from_data

    built = build_from_data()
    shipped = load_vocabulary()
    assert len(built.concepts) > 50_000 and len(shipped.concepts) == len(built.concepts)
    assert list(shipped.concepts) == sorted(built.concepts)
    assert all(shipped.concepts[norm] == concept for norm, concept in built.concepts.items())
    assert shipped.concept("python programming") == built.concept("python programming")
    assert shipped.concept("no such skill zz").key == "text:no such skill zz"
    assert "js" in shipped.concepts and "no such skill zz" not in shipped.concepts and shipped.concepts.get(1) is None


def _rss_growth_mb(code: str) -> float:
    """VmRSS growth (MB) of a fresh interpreter across ``code``, after importing the module."""
    import subprocess
    import sys

    script = ("import node.formats.skills_vocab as sv\n"
              "def rss():\n    return int([l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1])\n"
              f"before = rss()\nv = {code}\nv.concept('python')\nprint((rss() - before) / 1024)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    return float(out.stdout.strip())


def test_loaded_vocabulary_costs_a_fraction_of_the_dicts():
    """Loaded from SQLite the vocabulary adds ~6 MB to a process; the same mapping as dicts (what a
    node held before) adds ~55 MB: measured in the same run."""
    shipped = _rss_growth_mb("sv.load_vocabulary()")
    dicts = _rss_growth_mb("sv.build_from_data()")
    assert dicts > 35, dicts  # positive control: the dict form really is large
    assert shipped < 15 and shipped * 3 < dicts, (shipped, dicts)

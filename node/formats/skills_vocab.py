"""The skill vocabulary the node hands to ``protocol.matching``: ESCO skills plus a small curated overlay.

Data (package data of ``node``, read with importlib.resources):

- ``data/esco_skills.json.gz`` — ESCO v1.1.1 skills and knowledge concepts (preferred label,
  alternative labels, UUID), made by ``data/make_esco_vocabulary.py`` from a PyPI wheel; see
  ``data/README.md``. ESCO classification, European Commission, CC BY 4.0.
- ``data/skill_synonyms.json`` — hand-curated: short forms people actually type ("js", "excel",
  "forklift"), ESCO twins folded together for matching (knowledge "project management" and skill
  "perform project management"), and a few concepts ESCO lacks (keyed ``orgnode:<label>``).

Every label is put through ``protocol.matching.normalise`` and mapped to a ``Concept`` whose key is
the ESCO concept URI. When a normalised label could mean more than one concept, priority decides:
overlay > ESCO preferred labels > ESCO alternative labels > the head of a qualified preferred label
("Python (computer programming)" → "python"). Two concepts claiming a label *within* one tier
make it ambiguous: it is left out (and lower tiers may not claim it), so it matches only as text.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

from protocol.matching import Concept, Vocabulary, normalise

ESCO_FILE = "esco_skills.json.gz"
OVERLAY_FILE = "skill_synonyms.json"
LOCAL_PREFIX = "orgnode:"
_QUALIFIED = re.compile(r"^(.+?)\s*\([^()]+\)$")

_Tier = dict[str, set[str]]  # normalised label -> concept keys claiming it


@functools.cache
def load_vocabulary() -> Vocabulary:
    """The node's vocabulary (built once per process, ~0.5 s; later calls return the same object)."""
    data = resources.files("node.formats").joinpath("data")
    esco = json.loads(gzip.decompress(data.joinpath(ESCO_FILE).read_bytes()).decode("utf-8"))
    overlay = json.loads(data.joinpath(OVERLAY_FILE).read_text(encoding="utf-8"))
    return build_vocabulary(esco, overlay)


def build_vocabulary(esco: Mapping[str, Any], overlay: Mapping[str, Any] | None = None) -> Vocabulary:
    """Build a vocabulary from the ESCO table's JSON and the overlay's JSON (shapes as shipped)."""
    overlay = overlay or {}
    prefix = str(esco.get("uri_prefix", ""))
    concepts: dict[str, Concept] = {}
    preferred: _Tier = {}
    alternative: _Tier = {}
    derived: _Tier = {}
    for uuid, label, alts in esco["concepts"]:
        uri = prefix + uuid
        concepts[uri] = Concept(key=uri, label=label, uri=uri)
        _claim(preferred, [label], uri)
        _claim(alternative, alts, uri)
        head = _QUALIFIED.match(label)
        if head:
            _claim(derived, [head.group(1)], uri)

    def by_label(label: str) -> str:
        keys = preferred.get(normalise(label), set())
        if len(keys) != 1:
            raise ValueError(f"skill overlay: {label!r} is not exactly one ESCO preferred label")
        return next(iter(keys))

    # same_as: fold other concepts into a main one (their labels resolve to the main concept).
    canonical: dict[str, str] = {}
    for main_label, others in overlay.get("same_as", {}).items():
        main = by_label(main_label)
        for other in others:
            canonical[by_label(other)] = main

    top: _Tier = {}
    for target_label, aliases in overlay.get("aliases", {}).items():
        _claim(top, aliases, by_label(target_label))
    for label, aliases in overlay.get("local", {}).items():
        key = LOCAL_PREFIX + normalise(label).replace(" ", "-")
        concepts[key] = Concept(key=key, label=label, uri=None)
        _claim(top, [label, *aliases], key)

    mapping: dict[str, Concept] = {}
    blocked: set[str] = set()
    for tier in (top, preferred, alternative, derived):
        for norm, keys in tier.items():
            if norm in mapping or norm in blocked:
                continue
            targets = {canonical.get(k, k) for k in keys}
            if len(targets) == 1:
                mapping[norm] = concepts[targets.pop()]
            else:
                blocked.add(norm)
    return Vocabulary(mapping)


def _claim(tier: _Tier, labels: Iterable[str], key: str) -> None:
    for label in labels:
        norm = normalise(label)
        if norm:
            tier.setdefault(norm, set()).add(key)

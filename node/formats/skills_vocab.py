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

**What a node loads** (issue 11, memory): not the JSON, but ``data/skills_vocab.sqlite.gz``, the
same mapping built from it as a small SQLite database (storage/vocabulary.py), opened in memory;
a label is one indexed lookup (cached). As dicts the vocabulary cost ~55 MB of a node's memory, as
SQLite pages ~6 MB. Regenerate the file after changing either data file:
``python -m node.formats.skills_vocab`` (tests/node/test_skills_vocab.py checks that it matches).
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from protocol.matching import Concept, Vocabulary, normalise
from storage.vocabulary import VocabularyDb, build

ESCO_FILE = "esco_skills.json.gz"
OVERLAY_FILE = "skill_synonyms.json"
DB_FILE = "skills_vocab.sqlite.gz"  # what load_vocabulary reads: build_vocabulary's result as SQLite
LOOKUP_CACHE = 8192  # labels whose concept is kept in memory after a lookup (job and candidate skills repeat)
LOCAL_PREFIX = "orgnode:"
_QUALIFIED = re.compile(r"^(.+?)\s*\([^()]+\)$")

_Tier = dict[str, set[str]]  # normalised label -> concept keys claiming it


class LabelIndex(Mapping[str, Concept]):
    """normalised label -> concept, read from the vocabulary database instead of held in a dict;
    the ``Mapping`` ``protocol.matching.Vocabulary`` expects."""

    def __init__(self, db: VocabularyDb) -> None:
        self.db = db
        self._lookup = functools.lru_cache(maxsize=LOOKUP_CACHE)(self._read)

    def _read(self, norm: str) -> Concept | None:
        found = self.db.lookup(norm)
        return Concept(key=found[0], label=found[1], uri=found[2]) if found is not None else None

    def __getitem__(self, norm: str) -> Concept:
        concept = self._lookup(norm) if isinstance(norm, str) else None
        if concept is None:
            raise KeyError(norm)
        return concept

    def get(self, norm: str, default: Any = None) -> Any:
        concept = self._lookup(norm) if isinstance(norm, str) else None
        return default if concept is None else concept

    def __contains__(self, norm: object) -> bool:
        return isinstance(norm, str) and self._lookup(norm) is not None

    def __iter__(self) -> Iterator[str]:
        return self.db.norms()

    def __len__(self) -> int:
        return self.db.count()

    def norm_keys(self) -> Iterator[tuple[str, str]]:
        """Every (norm, concept key) in sorted order from one query: ``Vocabulary.fingerprint`` walks
        them all, and a lookup per label cost ~1.5 s at the first candidate added (issue 11 item 2)."""
        return self.db.norm_keys()


@functools.cache
def load_vocabulary() -> Vocabulary:
    """The node's vocabulary, from the shipped database (opened once per process, ~50 ms, ~6 MB;
    later calls return the same object)."""
    image = gzip.decompress(resources.files("node.formats").joinpath("data").joinpath(DB_FILE).read_bytes())
    return Vocabulary(LabelIndex(VocabularyDb.from_bytes(image)))


def build_from_data() -> Vocabulary:
    """The vocabulary built from the JSON data files as dicts (~0.5 s, ~55 MB): the source of the
    shipped database, and what the tests compare it with."""
    data = resources.files("node.formats").joinpath("data")
    esco = json.loads(gzip.decompress(data.joinpath(ESCO_FILE).read_bytes()).decode("utf-8"))
    overlay = json.loads(data.joinpath(OVERLAY_FILE).read_text(encoding="utf-8"))
    return build_vocabulary(esco, overlay)


def database_file(vocabulary: Vocabulary) -> bytes:
    """``DB_FILE``'s bytes for a vocabulary: its SQLite image, gzipped without a timestamp."""
    rows = ((norm, c.key, c.label, c.uri) for norm, c in vocabulary.concepts.items())
    return gzip.compress(build(rows), compresslevel=9, mtime=0)


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


def main() -> int:
    """``python -m node.formats.skills_vocab``: rebuild ``data/skills_vocab.sqlite.gz`` from the JSON."""
    target = Path(__file__).parent / "data" / DB_FILE
    target.write_bytes(database_file(build_from_data()))
    print(f"wrote {target} ({target.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

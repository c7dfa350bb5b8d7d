"""Scoring a candidate's skills against a job's requirements, with a skill vocabulary.

Pure: the vocabulary (normalised label → concept key, preferred label, ESCO URI) is loaded by the
node shell and passed in. Labels are compared after normalisation (case, accents, punctuation and
white space folded), then through the vocabulary, so "Python", "python programming" and an ESCO
alternative label of the same concept match each other. The score is an integer 0–100: the share
of the job's skills that the candidate has. ``matched`` lists the job's own labels that matched —
never anything from the candidate's record.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import cast

_NON_WORD = re.compile(r"[^a-z0-9+#]+")


def normalise(label: str) -> str:
    """Fold case, accents and punctuation: "  Node.js " -> "node js", "C++" stays "c++"."""
    text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode("ascii").lower()
    return _NON_WORD.sub(" ", text).strip()


@dataclass(frozen=True, slots=True)
class Concept:
    key: str
    label: str
    uri: str | None = None


@dataclass(frozen=True)
class Vocabulary:
    """normalised label → concept. ``concepts`` may be empty: then labels match by normalised text."""

    concepts: Mapping[str, Concept] = field(default_factory=dict)

    def concept(self, label: str) -> Concept:
        norm = normalise(label)
        found = self.concepts.get(norm)
        if found is not None:
            return found
        # Tolerate a trailing generic word ("python programming" / "python skills") when the head is known.
        for suffix in (" programming", " skills", " language", " development"):
            if norm.endswith(suffix) and norm[: -len(suffix)] in self.concepts:
                return self.concepts[norm[: -len(suffix)]]
        return Concept(key="text:" + norm, label=label.strip())

    def keys(self, labels: Iterable[str]) -> set[str]:
        return {self.concept(label).key for label in labels if normalise(label)}

    def _norm_keys(self) -> Iterable[tuple[str, str]]:
        """(normalised label, concept key) in sorted order; a mapping that can list them at once
        (``norm_keys``, the node's SQLite-backed one) is asked to, instead of a lookup per label."""
        listed = getattr(self.concepts, "norm_keys", None)
        if listed is not None:
            return cast(Iterable[tuple[str, str]], listed())
        return ((norm, self.concepts[norm].key) for norm in sorted(self.concepts))

    @functools.cached_property
    def fingerprint(self) -> str:
        """A digest of the label -> concept mapping: a skill index built with another vocabulary (an
        upgrade changed the data) is rebuilt, since its keys would no longer be what ``keys`` gives."""
        digest = hashlib.sha256(b"orgnode/vocabulary/v1")
        for norm, key in self._norm_keys():
            digest.update(f"{norm}\x00{key}\x00".encode())
        return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class MatchResult:
    score: int
    matched: tuple[str, ...]


def score(job_skills: list[str], candidate_skills: list[str], vocabulary: Vocabulary) -> MatchResult:
    wanted = [(label, vocabulary.concept(label).key) for label in job_skills if normalise(label)]
    if not wanted:
        return MatchResult(0, ())
    have = vocabulary.keys(candidate_skills)
    matched = tuple(label for label, key in wanted if key in have)
    return MatchResult(round(100 * len(matched) / len(wanted)), matched)


def split_skills(text: str) -> list[str]:
    """ "a, b; c" -> ["a", "b", "c"] (the CLI's and CSV's skill lists)."""
    return [part.strip() for part in re.split(r"[,;\n]", text) if part.strip()]

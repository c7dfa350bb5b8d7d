"""The recruiter's filters of ``candidate list`` as one SQL WHERE clause, so a page is filtered in the
database (issue 12 item 4) instead of by reading every candidate into memory.

Skills are matched through the skill index (``candidate_skills``, keyed by skill concept, its primary
key a lookup), consents through ``consents_by_candidate``; the page order stays the list's order
(``candidates_created``, migration 023).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONSENT_FILTERS = ("match", "refer", "none")  # a consent in force for this purpose, or none in force


@dataclass(frozen=True, slots=True)
class CandidateFilter:
    """``skill_keys``: one tuple per wanted skill (its concept keys; the candidate holds one of each);
    ``medal``: exact, case-insensitive; ``consent``: one of CONSENT_FILTERS, judged at ``now``;
    ``search``: a substring of the name or email, ignoring case and accents in any script (``fold``,
    storage/db.py: "MÜLLER" and "muller" find "Müller")."""

    skill_keys: tuple[tuple[str, ...], ...] = ()
    medal: str | None = None
    consent: str | None = None
    search: str | None = None
    now: int = 0

    def where(self) -> tuple[str, list[Any]]:
        """The clause (over ``candidates c``) and its parameters."""
        clauses = ["c.erased_at IS NULL"]
        params: list[Any] = []
        for keys in self.skill_keys:
            marks = ", ".join("?" * len(keys)) or "NULL"
            clauses.append("EXISTS (SELECT 1 FROM candidate_skills s WHERE s.candidate_id = c.candidate_id "  # noqa: S608
                           f"AND s.skill_key IN ({marks}))")
            params.extend(keys)
        if self.medal is not None:
            clauses.append("lower(c.medal) = lower(?)")
            params.append(self.medal)
        if self.consent is not None:
            in_force = ("EXISTS (SELECT 1 FROM consents k, json_each(k.purposes) p WHERE k.candidate_id = c.candidate_id "
                        "AND k.state = 'given' AND (k.expires_at IS NULL OR k.expires_at > ?)")
            if self.consent == "none":
                clauses.append(f"NOT {in_force})")
                params.append(self.now)
            else:
                clauses.append(f"{in_force} AND p.value = ?)")
                params.extend([self.now, self.consent])
        if self.search:
            clauses.append("(instr(fold(c.name), fold(?)) > 0 OR instr(fold(c.email), fold(?)) > 0)")
            params.extend([self.search, self.search])
        return " AND ".join(clauses), params

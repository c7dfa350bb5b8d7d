"""What a page of candidates shows (consents, their history, disclosures) read for the whole page at
once (issue 11: no request may hold the event loop for more than 50 ms). Read per candidate, a
1,000-candidate page of ``candidate list`` at 100,000 candidates was 3,000 queries and ~7.5 s on the
loop: ``consent_history`` had no index on ``consent_id`` (migration 034 adds one), so each history
query scanned the table. Here each kind is one query per ``CHUNK`` ids, the histories by their
``consent_history_by_consent`` index, the consents by ``consents_by_candidate``. A mixin of ``TalentStore``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlite_utils

from storage.talent_rows import ConsentEventRow, ConsentRow, DisclosureRow, _consent, _consent_event, _disclosure

CHUNK = 999  # ids per query (SQLite's classic bound on variables)


class CandidatePages:
    db: sqlite_utils.Database

    def _rows_for(self, sql: str, ids: Sequence[bytes]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for start in range(0, len(ids), CHUNK):
            part = list(ids[start:start + CHUNK])
            rows.extend(self.db.query(sql.format(marks=", ".join("?" * len(part))), part))
        return rows

    def page_consents(self, candidate_ids: Sequence[bytes]) -> dict[bytes, list[ConsentRow]]:
        """``consents`` of each candidate (oldest first), in one query per chunk."""
        found: dict[bytes, list[ConsentRow]] = defaultdict(list)
        for r in self._rows_for("SELECT * FROM consents WHERE candidate_id IN ({marks}) ORDER BY collected_at, rowid",
                                candidate_ids):
            row = _consent(r)
            found[row.candidate_id].append(row)
        return found

    def page_histories(self, consent_ids: Sequence[bytes]) -> dict[bytes, list[ConsentEventRow]]:
        """``consent_history`` of each consent (in the order recorded), in one query per chunk."""
        found: dict[bytes, list[ConsentEventRow]] = defaultdict(list)
        for r in self._rows_for("SELECT consent_id, state, at, note FROM consent_history WHERE consent_id IN ({marks}) "
                                "ORDER BY rowid", consent_ids):
            found[bytes(r["consent_id"])].append(_consent_event(r))
        return found

    def page_disclosures(self, candidate_ids: Sequence[bytes]) -> dict[bytes, list[DisclosureRow]]:
        """``disclosures`` of each candidate (oldest first), in one query per chunk."""
        found: dict[bytes, list[DisclosureRow]] = defaultdict(list)
        for r in self._rows_for("SELECT * FROM disclosures WHERE candidate_id IN ({marks}) ORDER BY at, rowid", candidate_ids):
            row = _disclosure(r)
            found[row.candidate_id].append(row)
        return found

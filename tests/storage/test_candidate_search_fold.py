"""`candidate list --search` ignores case and accents in every script, not only ASCII (acceptance pass
12: a German recruiter searching "MÜLLER" found nobody, "garcia" missed "García"). A real SQLite file
through every kind of connection the node opens."""

from __future__ import annotations

from pathlib import Path

from storage.candidate_filters import CandidateFilter
from storage.db import connect, connect_reader, connect_writer
from storage.talent import TalentStore
from storage.talent_rows import Candidate


def _add(store: TalentStore, n: int, name: str, email: str) -> None:
    store.add_candidate(Candidate(bytes([n]) * 16, bytes([n + 100]) * 16, name, email, None, None, (), None, None, n))


def test_search_folds_case_and_accents_on_every_connection(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    db = connect(path)
    store = TalentStore(db)
    _add(store, 1, "Anna Müller", "anna.mueller@example.de")
    _add(store, 2, "José García", "josé@example.es")
    _add(store, 3, "Bo Lindqvist", "bo@example.org")
    for conn in (db, connect_writer(path, db), connect_reader(path)):
        talent = TalentStore(conn)

        def found(text: str, talent: TalentStore = talent) -> list[str]:
            return [c.name for c in talent.candidates(only=CandidateFilter(search=text))]

        assert found("müller") == ["Anna Müller"]  # control: the exact spelling
        assert found("MÜLLER") == ["Anna Müller"]
        assert found("muller") == ["Anna Müller"]
        assert found("garcia") == ["José García"]
        assert found("JOSE@EXAMPLE") == ["José García"]  # the email too
        assert found("LINDQVIST") == ["Bo Lindqvist"]
        assert found("nobody") == []

"""storage/vocabulary.py: the skill vocabulary's SQLite image (issue 11, memory)."""

from __future__ import annotations

import pytest

from storage.vocabulary import VocabularyDb, build


def test_image_round_trips_and_looks_labels_up():
    rows = [("b", "k:2", "Beta", None), ("a", "k:1", "Alpha", "http://x/1"), ("alpha", "k:1", "Alpha", "http://x/1")]
    image = build(rows)
    assert build(list(reversed(rows))) == image  # deterministic
    db = VocabularyDb.from_bytes(image)
    assert db.lookup("alpha") == ("k:1", "Alpha", "http://x/1") and db.lookup("b") == ("k:2", "Beta", None)
    assert db.lookup("c") is None
    assert list(db.norms()) == ["a", "alpha", "b"] and db.count() == 3


def test_a_damaged_or_foreign_image_is_refused():
    with pytest.raises(ValueError, match="not a skill vocabulary database"):
        VocabularyDb.from_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    import sqlite3

    other = sqlite3.connect(":memory:")
    other.execute("CREATE TABLE meta (name TEXT, value TEXT)")
    other.execute("INSERT INTO meta VALUES ('format', 'something else')")
    with pytest.raises(ValueError, match="format"):
        VocabularyDb.from_bytes(other.serialize())

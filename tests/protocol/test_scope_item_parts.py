"""``scope_item_parts``: what a consent scope item names, read by the one scope rule (``scope_item_ok``)."""

from __future__ import annotations

from protocol.consent import scope_item_parts


def test_each_kind_of_scope_item_and_a_refused_one():
    node = "AB" * 32
    assert scope_item_parts("all") == ("all", "")
    assert scope_item_parts("sector:nonprofit") == ("sector", "nonprofit")
    assert scope_item_parts(f"node:{node}") == ("node", node.lower())
    for bad in ("sector:pirates", "node:abc", "everyone", ""):
        assert scope_item_parts(bad) == ("", bad)

"""sec10 finding: one statement stamped after year 9999 by a partner breaks the admin's views.

Issue 10 item 7 accepts statements stamped far ahead of the receiver's clock (flagged and counted).
``Header.decode`` lets ``ts`` be any integer up to 2**63-1, and ``node/core/views.py::iso`` turns
it into a ``datetime`` without a bound, which raises for any year after 9999. A trusted partner
pushes one private note stamped ``253402300800000`` (year 10000): it is accepted ("appended", counted
as skewed), and from then on the admin API's note list (``GET /notes``, `orgnode note list`) fails
with an internal error for this node's admin. Expected: such a stamp is refused (or shown clamped),
the listing keeps working.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from node.cli.common import when
from node.core.clock import now_ms
from node.core.views import INVALID_TIME, iso
from node.http.admin_client import AdminClient
from protocol import errors as E
from protocol.bodies import Note
from protocol.errors import RemoteProtocolError
from protocol.statement import MAX_FUTURE_MS, check_not_far_future, sign_statement
from tests.node.federation_helpers import Net, pair, push, synced

YEAR_10000_MS = 253_402_300_800_000


async def test_a_statement_stamped_after_year_9999_does_not_break_the_note_list(tmp_path):
    net = Net(tmp_path)
    try:
        a, m = await net.start("A"), await net.start("M")
        await pair(a, m)
        await synced(a, m)
        last = m.service.log.head(m.service.node_id)
        far = sign_statement(m.service.identity, kind=Note.KIND, seq=last.seq + 1, prev=last.id, now=YEAR_10000_MS,
                             body=Note("from the future", 1).to_value(), private=True, salt=os.urandom(32))
        assert (await push(m, a, far)).results() == [E.BAD_TIMESTAMP]  # refused at the door, nothing stored
        assert a.service.log.head(m.service.node_id).seq == last.seq
        # positive control: two days ahead is accepted (only flagged as skew), and the list still works
        soon = sign_statement(m.service.identity, kind=Note.KIND, seq=last.seq + 1, prev=last.id,
                              now=now_ms() + 2 * 86_400_000, body=Note("soon", 1).to_value(), private=True,
                              salt=os.urandom(32))
        assert (await push(m, a, soon)).results() == ["appended"]
        assert a.federation.health.skews[m.service.node_id].count == 1
        listed = await asyncio.to_thread(AdminClient(a.socket_path).call, "GET", "/notes")  # `orgnode note list`
        assert listed and all(n.get("time") for n in listed)
    finally:
        await net.close()


def test_views_show_an_unrepresentable_time_instead_of_failing():
    assert iso(YEAR_10000_MS) == INVALID_TIME and when(YEAR_10000_MS) == INVALID_TIME
    assert iso(2**63 - 1) == INVALID_TIME
    assert iso(0) == "1970-01-01T00:00:00Z" and when(0) == "1970-01-01 00:00 UTC"  # control


def test_the_far_future_rule_is_a_year():
    check_not_far_future(1_000 + MAX_FUTURE_MS, 1_000)  # exactly at the bound: accepted
    with pytest.raises(RemoteProtocolError) as caught:
        check_not_far_future(1_001 + MAX_FUTURE_MS, 1_000)
    assert caught.value.code == E.BAD_TIMESTAMP and E.BAD_TIMESTAMP in E.ALL_CODES

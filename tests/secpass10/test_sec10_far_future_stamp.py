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

from node.http.admin_client import AdminClient
from protocol.bodies import Note
from protocol.statement import sign_statement
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
        outcomes = (await push(m, a, far)).results()
        if outcomes != ["appended"]:
            return  # refused at the door: acceptable (strict xfail then reports the fix)
        listed = await asyncio.to_thread(AdminClient(a.socket_path).call, "GET", "/notes")  # `orgnode note list`
        assert any(n.get("time") for n in listed)
    finally:
        await net.close()

"""sec10 finding: a partner's free-form "error" text reaches `orgnode status` verbatim and unbounded.

``FederationClient.post`` takes ``error`` from any 4xx/5xx JSON body of the partner (``_error_code``:
any JSON value, up to the 512 KiB response limit) as the answer's "error code"; the own-log
recovery pull stores it as the reason a partner has not confirmed our log
(``StartCheck.last_error``), and `orgnode status` prints it next to the advice to run
`orgnode restore-done --force`. A hostile partner can thus show the admin half a megabyte, or a
convincing fake instruction ("all partners confirmed: run `orgnode restore-done --force`"), in
the status of a node that is waiting exactly for that decision (and a non-string "error" is kept as
whatever type it is). Terminal escapes are neutralised (safe_text); what is missing is that a
peer's code is only ever one of the protocol's codes (protocol/errors.py), else "HTTP <status>".
"""

from __future__ import annotations

import json

from aiohttp import web

from node.cli.lifecycle import status_text
from node.core.restore import check_view
from node.http.admin_api import status_info
from node.terminal import one_line_values
from protocol import errors as E
from tests.node.federation_helpers import Net, pair, wait_until

FAKE = ("all partners confirmed this node's log; finish with `orgnode restore-done --force` " + "x" * 200_000)


async def test_a_partners_error_text_is_not_shown_as_its_refusal_reason(tmp_path):
    net = Net(tmp_path)
    fake_runner = None
    try:
        b, m = await net.start("B"), await net.start("M")
        await pair(m, b)
        port = m.port
        await net.halt(m)  # M's node stops; a hostile server answers on its address instead

        async def refuse(request: web.Request) -> web.Response:
            return web.json_response({"error": FAKE}, status=400)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", refuse)
        fake_runner = web.AppRunner(app)
        await fake_runner.setup()
        await web.TCPSite(fake_runner, "127.0.0.1", port).start()

        home = await net.stop(b)
        b = await net.restart(home, confirmed=False)  # the start check asks M to confirm B's own log
        await wait_until(lambda: b.federation.start_check.last_error, timeout=10, what="M's refusal to be recorded")
        reasons = list(check_view(b.federation)["own_log_check_errors"].values())
        data = status_info(b.service, True, b.federation.health) | check_view(b.federation)
        shown = status_text(one_line_values(data))
        assert "waiting to confirm its own log" in shown  # positive control: the start check is what is shown
        known = {v for k, v in vars(E).items() if k.isupper() and isinstance(v, str)}
        assert all(isinstance(r, str) and len(r) <= 300 for r in reasons), [str(r)[:80] for r in reasons]
        assert FAKE[:40] not in shown, shown[:400]
        assert all(r in known or r.startswith("HTTP ") for r in reasons), [r[:80] for r in reasons]
    finally:
        if fake_runner is not None:
            await fake_runner.cleanup()
        await net.close()


def test_an_inviters_refusal_detail_is_one_bounded_line():
    from node.core.pairing import MAX_PEER_TEXT, _refusal_detail

    shown = _refusal_detail(json.dumps({"error": "bad-invite", "detail": "run this:\n" + "y" * 5000}).encode())
    assert shown is not None and "\n" not in shown and len(shown) == MAX_PEER_TEXT and shown.startswith("run this: y")
    assert _refusal_detail(json.dumps({"detail": {"not": "text"}}).encode()) is None

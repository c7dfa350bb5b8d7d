"""bench.catchup — a node offline while N statements were made rejoins: time to full sync and
statements per second, against the seal + open + verify floor measured in the same run (issue 11
item 4).

Run: ``python -m bench.catchup [--quick] [--profile]``. Two real nodes on loopback (HTTP, SQLite
files): A and B are paired, B is stopped, A appends N private notes (each queued for B in A's
durable outbox, as for any partner), then A is stopped and started again as a real ``orgnode run``
process of its own, and B is started again over its home in this process and timed from its start
until it holds A's whole log. The two nodes run in two processes, as deployed (each on its own
machine or at least its own interpreter): the time is the slower side's work, not the sum of both.
Both the pull B starts at once and A's push sender (woken by B's contact) may carry the backlog;
whatever each seals and opens is counted in the time. ``--profile`` profiles the reader (this
process) with pyinstrument.

The floor: the same kind of statements sealed to B, opened and verified, one after another in one
process (``1 / (1/seal + 1/open + 1/verify)``): the cryptography a catch-up cannot avoid today.

Goals: catch-up rate ≥ 0.6 × floor, and ≥ 5,000 statements/s on this machine.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path

from bench.common import Goal, figure, load_average, nodes, parser, report, run
from bench.nodeproc import orgnode, running
from protocol.bodies import Note
from protocol.sealing import open_statement_body, seal_statement_body
from protocol.statement import Envelope, Statement, sign_statement


def rate(items: list[object], fn: object) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)  # type: ignore[operator]
    return len(items) / (time.perf_counter() - start)


def crypto_floor(author: object, reader: object, n: int) -> tuple[float, float, float, float]:
    """(floor, seal/s, open/s, verify/s) for ``n`` private notes like the benchmark's."""
    statements: list[Statement] = []
    prev = None
    for i in range(n):
        s = sign_statement(author, kind=Note.KIND, seq=i + 1, prev=prev, now=1_767_225_600_000 + i,  # type: ignore[arg-type]
                           body=Note(f"catch-up note {i}").to_value(), private=True, salt=os.urandom(32))
        statements.append(s)
        prev = s.id
    keys, reader_id = reader.encryption_public, reader.node_id  # type: ignore[attr-defined]
    sealed: list[object] = []
    seal = rate(statements, lambda s: sealed.append(seal_statement_body(s, reader_id, keys)))
    pairs = list(zip(statements, sealed, strict=True))
    opened = rate(pairs, lambda p: open_statement_body(p[0].without_body(), p[1], reader))
    wire = [Envelope.of(s).encode() for s in statements]
    verify = rate(wire, lambda w: Envelope.decode(w).open_plain())
    return 1 / (1 / seal + 1 / opened + 1 / verify), seal, opened, verify


def sent_to(home: Path) -> float:
    """Own statements the author process delivered since its start (``orgnode_statements_sent``, every
    peer and way: B is its only partner), read from its metrics listener."""
    status = json.loads(orgnode(home, "status", "--json").stdout)
    with urllib.request.urlopen(status["metrics_url"], timeout=10) as answer:
        text = answer.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("orgnode_statements_sent_total{"))


async def main() -> bool:
    p = parser(__doc__)
    p.add_argument("--profile", action="store_true", help="print a pyinstrument profile of the reader during the catch-up")
    args = p.parse_args()
    n = 2000 if args.quick else 10_000
    print(f"bench.catchup: {n} private notes made while the reader was offline; load average {load_average()}")
    from tests.node.federation_helpers import pair, synced, wait_until

    async with nodes() as net:
        a = await net.start("Catchup A", sync_interval=30)
        b = await net.start("Catchup B", sync_interval=30)
        await pair(a, b)
        await synced(b, a)
        floor, seal, opened, verify = crypto_floor(a.service.identity, b.service.identity, min(n, 1000))
        author_id = a.service.node_id
        b_home = await net.stop(b)
        start = time.perf_counter()
        for i in range(n):
            a.federation.append(Note.KIND, Note(f"catch-up note {i}").to_value(), private=True)
        made = n / (time.perf_counter() - start)
        target = a.service.log.head(author_id).seq
        a_home = await net.stop(a)
        with running(a_home) as author:  # the author in a process of its own: a real `orgnode run`
            before = sent_to(author.home)
            profiler = None
            if args.profile:
                from pyinstrument import Profiler  # not a dependency: only for --profile

                profiler = Profiler(async_mode="disabled")
                profiler.start()
            start = time.perf_counter()
            b = await net.restart(b_home)
            await wait_until(lambda: b.service.log.head(author_id).seq >= target, timeout=900, interval=0.005,
                             what="the reader to catch up")
            elapsed = time.perf_counter() - start
            if profiler is not None:
                profiler.stop()
                print(profiler.output_text(unicode=False, color=False))
            sent = sent_to(author.home) - before
        catchup = n / elapsed
    figure("statements made at A while B was offline", n)
    figure("A's own appends", made, "statements/s")
    figure("raw seal (hybrid HPKE, per statement)", seal, "statements/s")
    figure("raw open + body check", opened, "statements/s")
    figure("decode + verify", verify, "statements/s")
    figure("seal + open + verify floor", floor, "statements/s")
    figure("catch-up: time to full sync", elapsed, "s")
    figure("catch-up rate", catchup, "statements/s")
    figure("sent to B per statement (A's metric; 1 = none twice)", sent / n)
    figure("ratio catch-up / floor", catchup / floor)
    print(f"  load average after: {load_average()}")
    # goals: at least 0.6 of the seal + open + verify floor measured above, and 5,000 statements/s
    return report("catchup", [Goal("rate_vs_floor", catchup, 0.6 * floor, upper=False, unit="statements/s", limit=floor),
                              Goal("rate", catchup, 5000, upper=False, unit="statements/s", limit=floor)])


if __name__ == "__main__":
    run(main)

"""Core benchmarks: each figure is printed next to a limit measured in the same run.

Run: ``python -m bench.bench_core [--n 2000]``. Results are recorded in docs/performance.md.
Ratios, not absolute numbers, are what to compare across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from protocol.bodies import Note
from protocol.identity import Identity
from protocol.sealing import open_statement_body, seal_statement_body
from protocol.statement import Envelope, sign_statement
from storage.db import connect
from storage.log_store import LogStore


def rate(n: int, fn: Callable[[int], object]) -> float:
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - start)


def line(name: str, value: float, limit_name: str, limit: float) -> None:
    print(f"{name:<44} {value:>10.0f}/s   {limit_name:<28} {limit:>10.0f}/s   ratio {value / limit:5.2f}")


def bench_crypto_and_log(n: int) -> tuple[float, float]:
    """Returns the per-statement crypto floor for sync (seal + open + verify, serially, in one
    process) and the raw durable-commit rate, the limits the sync figures are compared with."""
    author = Identity.from_random(os.urandom)
    reader = Identity.from_random(os.urandom)
    key = ed25519.Ed25519PrivateKey.generate()
    message = os.urandom(200)
    sig = key.sign(message)
    pub = key.public_key()
    raw_verify = rate(n, lambda i: pub.verify(sig, message))
    raw_sign = rate(n, lambda i: key.sign(message))
    statements = []
    prev = None
    for i in range(n):
        s = sign_statement(author, kind="note", seq=i + 1, prev=prev, now=1_767_225_600_000 + i,
                           body=Note(f"note {i}" * 8).to_value(), private=True, salt=os.urandom(32))
        statements.append(s)
        prev = s.id
    sign_rate = rate(n, lambda i: sign_statement(author, kind="note", seq=i + 1, prev=None if i == 0 else b"\0" * 32,
                                                 now=1, body=Note("x" * 64).to_value(), private=True, salt=b"\1" * 32))
    wire = [Envelope.of(s).encode() for s in statements]
    verify_rate = rate(n, lambda i: Envelope.decode(wire[i]).open_plain())
    line("statement sign (encode+hash+sign)", sign_rate, "raw Ed25519 sign", raw_sign)
    line("statement decode + verify + body check", verify_rate, "raw Ed25519 verify", raw_verify)

    keys = reader.encryption_public
    sealed = [seal_statement_body(statements[i], reader.node_id, keys) for i in range(min(n, 500))]
    seal_rate = rate(len(sealed), lambda i: seal_statement_body(statements[i], reader.node_id, keys))
    open_rate = rate(len(sealed), lambda i: open_statement_body(statements[i].without_body(), sealed[i], reader))
    from cryptography.hazmat.primitives import hpke

    suite = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
    pk = keys.hybrid_public_key()
    raw_seal = rate(len(sealed), lambda i: suite.encrypt(b"x" * 120, pk, info=b"i"))
    line("seal body to a peer (ML-KEM-768+X25519)", seal_rate, "raw HPKE hybrid seal", raw_seal)
    ct = suite.encrypt(b"x" * 120, pk, info=b"i")
    sk = reader.hybrid_private_key()
    raw_open = rate(len(sealed), lambda i: suite.decrypt(ct, sk, info=b"i"))
    line("open sealed body + check hash", open_rate, "raw HPKE hybrid open", raw_open)

    with tempfile.TemporaryDirectory() as tmp:
        store = LogStore(connect(Path(tmp) / "bench.db"))
        opened = [Envelope.decode(w).open_plain() for w in wire]
        start = time.perf_counter()
        for s in opened:
            store.ingest(s, received_from=author.node_id, now=1)
        ingest_rate = n / (time.perf_counter() - start)
        raw_db = connect(Path(tmp) / "raw.db")
        raw_db.execute("CREATE TABLE t (id BLOB PRIMARY KEY, v BLOB)")
        start = time.perf_counter()
        for i in range(n):
            with raw_db.atomic():
                raw_db.execute("INSERT INTO t VALUES (?, ?)", [os.urandom(32), wire[i]])
        raw_commit = n / (time.perf_counter() - start)
        line("log ingest (one transaction per statement)", ingest_rate, "raw SQLite commit per row", raw_commit)
    return 1 / (1 / raw_seal + 1 / raw_open + 1 / raw_verify), raw_commit


async def bench_sync(n: int, crypto_floor: float, raw_commit: float) -> None:
    from tests.node.federation_helpers import Net, pair, wait_until

    with tempfile.TemporaryDirectory() as tmp:
        net = Net(Path(tmp))
        try:
            a = await net.start("Bench A", sync_interval=0.2)
            b = await net.start("Bench B", sync_interval=0.2)
            start = time.perf_counter()
            for i in range(n):
                a.federation.append("note", Note(f"bench {i}").to_value(), private=True)
            append_rate = n / (time.perf_counter() - start)
            # Catch-up: B pairs with A, which already holds n private statements, and pulls them all
            # (pages of up to 64, each verified, opened and applied in one transaction).
            start = time.perf_counter()
            await pair(a, b)  # pairing starts B's first pull: it is part of the catch-up
            target = a.service.log.head(a.service.node_id).seq
            await wait_until(lambda: b.service.log.head(a.service.node_id).seq >= target, timeout=600)
            catchup_rate = target / (time.perf_counter() - start)
            # Live push: A appends while B is running; B applies as pushes arrive.
            start_seq = b.service.log.head(a.service.node_id).seq
            start = time.perf_counter()
            for i in range(n):
                a.federation.append("note", Note(f"live {i}").to_value(), private=True)
                await asyncio.sleep(0)  # let the sender push while the author keeps appending
            await wait_until(lambda: b.service.log.head(a.service.node_id).seq >= start_seq + n, timeout=600)
            live_rate = n / (time.perf_counter() - start)
        finally:
            await net.close()
    line("own append (sign + commit + outbox)", append_rate, "raw SQLite commit per row", raw_commit)
    line(f"catch-up pull over HTTP ({n} sealed notes)", catchup_rate, "seal+open+verify floor", crypto_floor)
    # Live: every append commits at A and is then pushed, opened and committed at B.
    line(f"live push A->B over HTTP ({n} notes)", live_rate, "commit floor (2 commits each)", raw_commit / 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    print(f"orgnode core benchmarks, n={args.n}")
    floor, raw_commit = bench_crypto_and_log(args.n)
    asyncio.run(bench_sync(min(args.n, 1000), floor, raw_commit))


if __name__ == "__main__":
    main()

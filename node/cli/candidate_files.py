"""`candidate import` and `candidate export`: candidates from and to CSV files.

Messages name the CSV file's own columns and row numbers (``row 4 (E-Mail): ...``), never CLI
options: the person fixing the file sees the spreadsheet, not the command line. Counts are the
rows of the file: imported + refused = total, and the exit status is 1 only when rows were refused.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from node.cli.common import ALL_PAGE, admin, command, emit
from node.core.csv_import import IMPORT_BATCH, import_item, import_report, results_into
from node.core.errors import UserError

MAP_HINT = "; to read one as a field, give --map COLUMN=FIELD (COLUMN may be its letter)"
IN_FLIGHT = 2  # batches sent before the first answer is awaited: the node stages one while it stores the other


def _read(args: argparse.Namespace) -> Any:
    """The file decoded and its header read (its rows are read as they are sent), or a UserError
    saying why it cannot be (binary, a bad --map)."""
    from node.formats.candidate_csv import CandidateCsvReader
    from node.formats.csv_columns import ColumnMapError, parse_map
    from node.formats.csv_text import CsvFileError, decode_csv_bytes

    try:
        mapping = parse_map(args.map or [])
        raw = Path(args.file).read_bytes()
    except ColumnMapError as exc:
        raise UserError(str(exc)) from exc
    except OSError as exc:
        raise UserError(f"cannot read {args.file}: {exc.strerror}") from exc
    try:
        decoded = decode_csv_bytes(raw)
        reader = CandidateCsvReader(decoded.text, mapping)
    except (CsvFileError, ColumnMapError) as exc:
        raise UserError(f"{args.file}: {exc}") from exc
    return decoded, reader


def cmd_candidate_import(args: argparse.Namespace) -> int:
    decoded, reader = _read(args)
    refused_by_node: list[dict[str, Any]] = []
    imported = _send(args, reader, refused_by_node)
    report = import_report(decoded.encoding, reader.result(), imported, refused_by_node, MAP_HINT)
    failures, warnings = report["errors"], report["warnings"]
    if not args.json:
        for w in warnings:
            print("warning: " + (f"row {w['row']}" + (f" ({w['column']})" if w["column"] else "") + ": " if w["row"] else "")
                  + w["warning"], file=sys.stderr)
    emit(args, report, lambda: _summary(report))
    return 1 if failures else 0


def _send(args: argparse.Namespace, reader: Any, failures: list[dict[str, Any]]) -> list[str]:
    """Send the valid rows in batches as they are read; the ids of the candidates the node recorded.
    Progress (stderr) counts rows processed and, separately, rows imported, so it never says more than
    were imported; it shows from the moment the file is read to its end (the total is known).

    ``IN_FLIGHT`` batches are sent at once (each on its own connection, from a worker thread), so
    the node checks and signs the next batch while it stores one, and this process reads the file
    and encodes the next request meanwhile; the answers are taken in the order of the file, so the
    report and the progress are the same as one batch at a time."""
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    imported: list[str] = []
    done = 0
    client: Any = None
    with ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="orgnode-import") as pool:
        pending: deque[tuple[Future[Any], list[Any]]] = deque()

        def send(batch: list[Any]) -> None:
            nonlocal client
            client = client or admin(args)
            pending.append((pool.submit(client.call, "POST", "/candidates/import",
                                        {"rows": [import_item(row) for row in batch]}, timeout=300), batch))

        batch: list[Any] = []
        for row in reader.rows():
            batch.append(row)
            if len(batch) == IMPORT_BATCH:
                send(batch)
                batch = []
            while len(pending) >= IN_FLIGHT:  # the file's total is not known yet: no progress line
                done += _take_answer(*pending.popleft(), reader.columns, imported, failures)
        if batch:
            send(batch)
        total = len(reader.valid)
        if done:
            _progress(args, done, total, imported)
        while pending:
            done += _take_answer(*pending.popleft(), reader.columns, imported, failures)
            _progress(args, done, total, imported)
    if not args.json and total:
        print(file=sys.stderr)
    return imported


def _take_answer(answer: Any, batch: list[Any], columns: dict[str, str], imported: list[str],
                 failures: list[dict[str, Any]]) -> int:
    """One batch's answer into the ids and the failures; the rows it covered."""
    try:
        result = answer.result()
    except UserError as exc:  # the whole batch was refused (the node is restoring, say): every row says why
        failures += [{"row": row.row, "column": None, "field": None, "error": str(exc)} for row in batch]
    else:
        results_into(result["results"], columns, imported, failures)
    return len(batch)


def _progress(args: argparse.Namespace, done: int, total: int, imported: list[str]) -> None:
    if not args.json:
        print(f"\r  {done}/{total} valid row(s) sent, {len(imported)} imported", end="", file=sys.stderr, flush=True)


def _summary(report: dict[str, Any]) -> str:
    lines = [f"Imported {report['imported']} of {report['total']} candidate row(s)"
             + (f"; {report['refused']} row(s) refused:" if report["refused"] else
                ("; the file could not be imported:" if report["errors"] else "."))]
    lines += [f"  row {f['row']}{' (' + f['column'] + ')' if f['column'] else ''}: {f['error']}" for f in report["errors"]]
    if report["refused"] and report["imported"]:  # what to do: the rows imported must not be sent again
        lines.append("Correct the refused rows and import a file holding only them (with the header line): the rows "
                     "imported now would be refused as already recorded.")
    elif report["refused"]:
        lines.append("Correct the refused rows in the file, then import it again.")
    return "\n".join(lines)


def cmd_candidate_export(args: argparse.Namespace) -> int:
    from node.formats.candidate_csv_export import candidates_csv
    from node.safe_files import write_private

    if args.json and not args.output:
        raise UserError("with --json, give --output FILE: the CSV and the JSON summary cannot share the output")
    client = admin(args)
    candidates: list[Any] = []
    while len(page := client.call("GET", f"/candidates?limit={ALL_PAGE}&offset={len(candidates)}", timeout=60)) == ALL_PAGE:
        candidates += page
    text, count = candidates_csv(candidates + page)
    if not args.output:
        sys.stdout.write(text)
        return 0
    try:
        # UTF-8 with a BOM: Excel then shows accents right; the file holds personal data, so owner-only.
        write_private(args.output, ("\ufeff" + text).encode())
    except OSError as exc:
        raise UserError(f"cannot write {args.output}: {exc.strerror}") from exc
    emit(args, {"exported": count, "output": str(args.output)},
         f"Exported {count} candidate(s) to {args.output} (personal data: keep it safe; formula-like cells are prefixed with ').")
    return 0


def register(cand: Any, common: argparse.ArgumentParser) -> None:
    p = command(cand, common, "import", cmd_candidate_import,
                "import candidates from a CSV file (reports bad rows, imports good ones)")
    p.add_argument("file", help="a CSV file of candidates (comma, semicolon or tab separated; UTF-8, UTF-16 or Windows-1252)")
    p.add_argument("--map", action="append", metavar="COLUMN=FIELD",
                   help="read the file's COLUMN (its header name or letter) as FIELD, e.g. \"Kompetenzen=skills\"; repeatable")
    p = command(cand, common, "export", cmd_candidate_export,
                "write the candidates as CSV with the columns `candidate import` reads (erased ones never)")
    p.add_argument("--output", metavar="FILE", help="write to FILE (owner-only) instead of standard output")

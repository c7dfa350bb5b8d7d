"""`candidate import` and `candidate export`: candidates from and to CSV files.

Messages name the CSV file's own columns and row numbers (``row 4 (E-Mail): ...``), never CLI
options: the person fixing the file sees the spreadsheet, not the command line. Counts are the
rows of the file: imported + refused = total, and the exit status is 1 only when rows were refused.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from node.cli.common import ALL_PAGE, admin, command, emit
from node.core.errors import UserError

# Rows per admin request of `candidate import`: one transaction (one durable commit) each. At 100,000
# candidates a commit writes most pages of the random-keyed indexes whatever its size, so the batch is
# big enough that the commit is paid per 2,000 rows (docs/performance.md "import").
IMPORT_BATCH = 2000
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


def _node_error(result: dict[str, Any], columns: dict[str, str]) -> dict[str, Any]:
    """A row the node refused, worded for the file: the field it blames as the CSV column holding it."""
    field = result.get("field")
    column = columns.get(field, field) if isinstance(field, str) else None
    message = str(result["error"])
    if isinstance(field, str) and column:
        message = re.sub(rf"\b{re.escape(field)}\b", column, message) if "_" in field else message
    return {"row": result["row"], "column": column, "field": field, "error": message}


def cmd_candidate_import(args: argparse.Namespace) -> int:
    decoded, reader = _read(args)
    refused_by_node: list[dict[str, Any]] = []
    imported = _send(args, reader, refused_by_node)
    parsed = reader.result()
    warnings = [{"row": w.row, "column": w.column, "warning": w.message + (
        "; to read one as a field, give --map COLUMN=FIELD (COLUMN may be its letter)" if w.code == "unknown_columns" else "")}
        for w in parsed.warnings]
    if decoded.encoding == "Windows-1252":
        warnings.insert(0, {"row": None, "column": None,
                            "warning": "the file is not UTF-8: read it as Windows-1252 (save as \"CSV UTF-8\" to avoid this)"})
    failures: list[dict[str, Any]] = [{"row": e.row, "column": e.column, "field": e.field, "error": e.message}
                                      for e in parsed.errors] + refused_by_node
    failures.sort(key=lambda f: f["row"])
    refused = len({f["row"] for f in failures if f["row"] > 1})
    total = len(imported) + refused
    report = {"imported": len(imported), "refused": refused, "total": total, "ids": imported, "errors": failures,
              "warnings": warnings, "encoding": decoded.encoding}
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
                                        {"rows": [_import_row(row) for row in batch]}, timeout=300), batch))

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
        for item in result["results"]:
            if "id" in item:
                imported.append(item["id"])
            else:
                failures.append(_node_error(item, columns))
    return len(batch)


def _progress(args: argparse.Namespace, done: int, total: int, imported: list[str]) -> None:
    if not args.json:
        print(f"\r  {done}/{total} valid row(s) sent, {len(imported)} imported", end="", file=sys.stderr, flush=True)


def _summary(report: dict[str, Any]) -> str:
    lines = [f"Imported {report['imported']} of {report['total']} candidate row(s)"
             + (f"; {report['refused']} row(s) refused:" if report["refused"] else
                ("; the file could not be imported:" if report["errors"] else "."))]
    lines += [f"  row {f['row']}{' (' + f['column'] + ')' if f['column'] else ''}: {f['error']}" for f in report["errors"]]
    return "\n".join(lines)


def _import_row(row: Any) -> dict[str, Any]:
    """One valid CSV row as an item of POST /candidates/import (the fields of /candidates/add)."""
    return {"row": row.row, "name": row.name, "email": row.email, "phone": row.phone, "location": row.location,
            "skills": ", ".join(row.skills), "medal": row.medal, "for_job": row.for_job, "consent": ",".join(row.consent),
            "consent_scope": row.consent_scope, "consent_expires": row.consent_expires, "consent_evidence": row.consent_evidence,
            "notes": row.notes}


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

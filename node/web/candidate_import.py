"""Importing candidates from a CSV file on the candidates pages (staff and up), in three steps:

1. choose the file (at most ``MAX_CSV_BYTES``);
2. the preview: how the file was read (encoding and separator, detected by node/formats/csv_text.py
   as `orgnode candidate import` detects them), a form with one choice per column, pre-filled from the
   header names as the CLI's detection reads them (node/formats/csv_columns.py; changing one is the
   CLI's ``--map COLUMN=FIELD``), the first rows as they will be imported and every row's problems;
3. the import, with the CLI's per-row report (node/core/csv_import.py ``import_report``).

Between the steps the file travels in the form itself (base64 in a hidden field): the node keeps no
copy of an upload that was previewed and never imported. Every step reads it again the same way, so
what the preview shows is what is imported.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from node.core.csv_import import import_report, import_rows
from node.core.errors import UserError
from node.formats.candidate_csv import CandidateCsvReader, CandidateRow, ParsedCsv
from node.formats.csv_columns import FIELDS, IGNORE, ColumnMapError, letter, parse_map, resolve_header
from node.formats.csv_text import DELIMITER_NAMES, CsvFileError, decode_csv_bytes
from node.web.auth import requires
from node.web.context import WEB, session_of

MAX_CSV_BYTES = 4 * 1024 * 1024  # about 20,000 candidates; larger files: `orgnode candidate import`
PREVIEW_ROWS = 10
SHOWN_PROBLEMS = 200
MAP_HINT = "; to read one, choose its field in the column form below"
FIELD_LABELS = {"name": "Name", "first_name": "First name", "last_name": "Last name", "email": "Email",
                "phone": "Phone", "location": "Place", "skills": "Skills", "medal": "Medal", "for_job": "Job applied for",
                "consent": "Consent (purposes)", "consent_scope": "Consent: who may receive them",
                "consent_expires": "Consent: until", "consent_evidence": "Consent: evidence", "notes": "Notes",
                IGNORE: "Do not import this column"}


@requires("staff")
async def choose_file(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("candidate_import.html", request, {"max_mib": MAX_CSV_BYTES // (1024 * 1024)})


async def _file_of(form: Any) -> tuple[bytes, str]:
    """The file's bytes and name: a new upload, else the one the preview carried."""
    upload = form.get("file")
    if isinstance(upload, web.FileField) and upload.filename:
        raw, name = upload.file.read(MAX_CSV_BYTES + 1), str(upload.filename)
    else:
        try:
            raw = base64.b64decode(str(form.get("data", "")), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise UserError("the file did not come back with the form: choose it again") from exc
        name = str(form.get("file_name", "the file"))[:200]
    if not raw:
        raise UserError("choose a CSV file to import (an empty file has no candidates)")
    if len(raw) > MAX_CSV_BYTES:
        raise UserError(f"{name} is larger than {MAX_CSV_BYTES // (1024 * 1024)} MiB: split it into smaller files, or ask "
                        "your administrator to import it on the server")
    return raw, name


def _mapping(form: Any, cells: list[str]) -> tuple[dict[str, str], list[str]]:
    """The column form's choices as a ``--map`` (only where they differ from what the header names say),
    and every column's chosen field (``ignore`` for none)."""
    detected = resolve_header(cells, {}).fields
    items, chosen = [], []
    for i, auto in enumerate(detected):
        pick = str(form.get(f"col-{i}", "")).strip() or (auto or IGNORE)
        chosen.append(pick)
        if pick != (auto or IGNORE):
            items.append(f"{letter(i)}={pick}")
    try:
        return parse_map(items), chosen
    except ColumnMapError as exc:
        raise UserError(str(exc)) from exc


def _read(raw: bytes, form: Any) -> tuple[str, CandidateCsvReader, list[str]]:
    """The file read as the CLI reads it, with the form's column choices: (encoding, reader, choices)."""
    try:
        decoded = decode_csv_bytes(raw)
        cells = CandidateCsvReader(decoded.text).header
        header_cells = list(cells.cells) if cells is not None else []
        mapping, chosen = _mapping(form, header_cells)
        return decoded.encoding, CandidateCsvReader(decoded.text, mapping), chosen
    except (CsvFileError, ColumnMapError) as exc:
        raise UserError(f"the file cannot be imported: {exc}") from exc


TAKEN = "a candidate with this email address is already recorded here"


def _taken(talent: Any, parsed: ParsedCsv) -> set[int]:
    """The valid rows the node will refuse as already recorded (the same email address)."""
    return {r.row for r in parsed.rows if talent.store.email_taken(r.email)}


def _preview_rows(parsed: ParsedCsv, taken: set[int]) -> list[dict[str, Any]]:
    """The first data rows in file order: each as it will be imported, or refused with its problems."""
    valid: dict[int, CandidateRow] = {r.row: r for r in parsed.rows[:PREVIEW_ROWS]}
    problems: dict[int, list[str]] = {n: [f"{parsed.columns.get('email', 'email')}: {TAKEN}"] for n in taken}
    for e in parsed.errors:
        if e.row > 1:
            problems.setdefault(e.row, []).append((f"{e.column}: " if e.column else "") + e.message)
    numbers = sorted({*valid, *problems})[:PREVIEW_ROWS]
    return [{"row": n, "c": valid.get(n), "problems": problems.get(n, [])} for n in numbers]


@requires("staff")
async def preview(request: web.Request) -> web.Response:
    ctx = request.app[WEB]
    form = await request.post()
    raw, name = await _file_of(form)
    encoding, reader, chosen = _read(raw, form)
    for _ in reader.rows():
        pass
    parsed = reader.result()
    taken = _taken(ctx.talent, parsed)
    report = import_report(encoding, parsed, [], [{"row": n, "column": parsed.columns.get("email"), "field": "email",
                                                   "error": TAKEN} for n in sorted(taken)], MAP_HINT)
    header = reader.header
    columns = [{"index": i, "letter": letter(i), "cell": cell, "field": chosen[i] if i < len(chosen) else IGNORE}
               for i, cell in enumerate(header.cells)] if header is not None else []
    return aiohttp_jinja2.render_template("candidate_import_preview.html", request, {
        "name": name, "data": base64.b64encode(raw).decode(), "encoding": encoding,
        "delimiter": DELIMITER_NAMES.get(reader.delimiter, reader.delimiter), "columns": columns,
        "fields": (*FIELDS, IGNORE), "labels": FIELD_LABELS, "rows": _preview_rows(parsed, taken),
        "valid": len(parsed.rows) - len(taken), "refused": report["refused"], "problems": report["errors"][:SHOWN_PROBLEMS],
        "more_problems": max(0, len(report["errors"]) - SHOWN_PROBLEMS), "warnings": report["warnings"]})


@requires("staff")
async def run_import(request: web.Request) -> web.Response:
    ctx = request.app[WEB]
    form = await request.post()
    raw, name = await _file_of(form)
    encoding, reader, _ = _read(raw, form)
    imported, refused_by_node = await import_rows(ctx.talent, reader.rows(), reader.columns)
    report = import_report(encoding, reader.result(), imported, refused_by_node, MAP_HINT)
    if imported:
        ctx.accounts.record(session_of(request).user.name, f"imported {len(imported)} candidate(s) from a CSV file")
    return aiohttp_jinja2.render_template("candidate_import_done.html", request, {"name": name, "r": report},
                                          status=200)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/candidates/import", choose_file)
    router.add_post("/candidates/import/preview", preview)
    router.add_post("/candidates/import", run_import)

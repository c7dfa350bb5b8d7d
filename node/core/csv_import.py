"""A candidate CSV file's import report, the same for `orgnode candidate import` and the dashboard.

The file is read by node/formats (``decode_csv_bytes``: encoding; ``CandidateCsvReader``: delimiter,
header aliases and ``--map``, per-row checks); each valid row becomes an item of the admin request
``CandidateImport`` (``import_item``) and the node checks and stores it (``Talent.import_candidates_async``).
What comes back is worded for the file (``node_error``: the CSV column, not the request field) and
summed up in one report (``import_report``: imported + refused = total rows). The CLI sends its
batches over the admin socket; the dashboard, inside the node, hands them to the same use case
(``import_rows``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from node.core.errors import UserError

if TYPE_CHECKING:
    from node.core.talent import Talent
    from node.formats.candidate_csv import CandidateRow, ParsedCsv

# Rows per batch (an admin request of `candidate import`): one transaction (one durable commit) each. At 100,000
# candidates a commit writes most pages of the random-keyed indexes whatever its size, so the batch is
# big enough that the commit is paid per 2,000 rows (docs/performance.md "import").
IMPORT_BATCH = 2000


def import_item(row: CandidateRow) -> dict[str, Any]:
    """One valid CSV row as an item of the ``CandidateImport`` request (the fields of /candidates/add)."""
    return {"row": row.row, "name": row.name, "email": row.email, "phone": row.phone, "location": row.location,
            "skills": ", ".join(row.skills), "medal": row.medal, "for_job": row.for_job, "consent": ",".join(row.consent),
            "consent_scope": row.consent_scope, "consent_expires": row.consent_expires, "consent_evidence": row.consent_evidence,
            "notes": row.notes}


def node_error(result: dict[str, Any], columns: dict[str, str]) -> dict[str, Any]:
    """A row the node refused, worded for the file: the field it blames as the CSV column holding it."""
    field = result.get("field")
    column = columns.get(field, field) if isinstance(field, str) else None
    message = str(result["error"])
    if isinstance(field, str) and column:
        message = re.sub(rf"\b{re.escape(field)}\b", column, message) if "_" in field else message
    return {"row": result["row"], "column": column, "field": field, "error": message}


def import_report(encoding: str, parsed: ParsedCsv, imported: list[str], refused_by_node: list[dict[str, Any]],
                  map_hint: str) -> dict[str, Any]:
    """The whole import's report: counts, the new ids, every refused row's problems (in row order) and
    the warnings (nothing refused); ``map_hint`` says how to read an unknown column (`--map`, the form)."""
    warnings = [{"row": w.row, "column": w.column,
                 "warning": w.message + (map_hint if w.code == "unknown_columns" else "")} for w in parsed.warnings]
    if encoding == "Windows-1252":
        warnings.insert(0, {"row": None, "column": None,
                            "warning": "the file is not UTF-8: read it as Windows-1252 (save as \"CSV UTF-8\" to avoid this)"})
    failures: list[dict[str, Any]] = [{"row": e.row, "column": e.column, "field": e.field, "error": e.message}
                                      for e in parsed.errors] + refused_by_node
    failures.sort(key=lambda f: f["row"])
    refused = len({f["row"] for f in failures if f["row"] > 1})
    return {"imported": len(imported), "refused": refused, "total": len(imported) + refused, "candidate_ids": imported,
            "errors": failures, "warnings": warnings, "encoding": encoding}


def results_into(results: list[dict[str, Any]], columns: dict[str, str], imported: list[str],
                 failures: list[dict[str, Any]]) -> None:
    """One batch's per-row results into the new ids and the refused rows (worded for the file)."""
    for item in results:
        if "id" in item:
            imported.append(item["id"])
        else:
            failures.append(node_error(item, columns))


async def import_rows(talent: Talent, rows: Iterable[CandidateRow], columns: dict[str, str]) -> tuple[list[str], list[dict[str, Any]]]:
    """The valid rows through ``CandidateImport`` and the node's import, in batches: (new ids, refused rows)."""
    from node.core.requests.talent import CandidateImport

    imported: list[str] = []
    failures: list[dict[str, Any]] = []
    batch: list[CandidateRow] = []

    async def send(chunk: list[CandidateRow]) -> None:
        req = CandidateImport.from_json({"rows": [import_item(r) for r in chunk]})
        try:
            results = await talent.import_candidates_async([(r.row, r.add.core_args() if r.add else None, r.error)
                                                            for r in req.rows])
        except UserError as exc:  # the whole batch refused (a restore is pending, say): every row says why
            failures.extend({"row": r.row, "column": None, "field": None, "error": str(exc)} for r in chunk)
            return
        results_into(results, columns, imported, failures)

    for row in rows:
        batch.append(row)
        if len(batch) == IMPORT_BATCH:
            await send(batch)
            batch = []
    if batch:
        await send(batch)
    return imported, failures

"""Write candidates as CSV that ``candidate import`` reads back, safe to open in a spreadsheet.

A cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR is run as a formula by Excel, LibreOffice
and Google Sheets (OWASP "CSV Injection"): a candidate's name ``=HYPERLINK(...)`` typed into a web
form would run on the recruiter's machine. Such cells are written with a leading ``'`` (the
spreadsheet's "this is text" mark); the import removes exactly that mark again (candidate_csv.unescape_formula),
so a phone number ``+44 …`` round-trips unchanged.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from node.formats.candidate_csv import COLUMNS, FORMULA_START


def guard_formula(cell: str) -> str:
    """The OWASP rule: prefix ``'`` to a cell a spreadsheet would evaluate."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def _rfc3339(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{ms % 1000:03d}" if ms % 1000 else "") + "Z"


def _consent(candidate: dict[str, Any]) -> dict[str, Any] | None:
    """The newest consent in force: a CSV row has room for one, and a withdrawn or expired one gives no rights."""
    given = [c for c in candidate.get("consents") or [] if c.get("state") == "given"]
    return given[-1] if given else None


def candidate_cells(candidate: dict[str, Any]) -> list[str]:
    """One candidate (as GET /candidates lists it) as the row of cells under ``COLUMNS``."""
    consent = _consent(candidate)
    values = {
        "name": candidate["name"], "email": candidate["email"], "phone": candidate.get("phone") or "",
        "location": candidate.get("location") or "", "skills": ", ".join(candidate.get("skills") or []),
        "medal": candidate.get("medal") or "", "for_job": candidate.get("for_job") or "",
        "consent": ",".join(consent["purposes"]) if consent else "",
        "consent_scope": " ".join(consent["scope"]) if consent else "",
        "consent_expires": _rfc3339(consent["expires_at"]) if consent and consent.get("expires_at") else "",
        "consent_evidence": (consent.get("evidence") or "") if consent else "",
        "notes": candidate.get("notes") or "",
    }
    return [guard_formula(str(values[column])) for column in COLUMNS]


def exportable(candidate: dict[str, Any]) -> bool:
    """Erased candidates are tombstones with no personal data: never exported (the list omits them already)."""
    return bool(candidate.get("name") and candidate.get("email")) and not candidate.get("erased")


def candidates_csv(candidates: list[dict[str, Any]]) -> tuple[str, int]:
    """(the CSV text with a header row and CRLF line ends, the number of candidates written)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    count = 0
    for candidate in candidates:
        if exportable(candidate):
            writer.writerow(candidate_cells(candidate))
            count += 1
    return out.getvalue(), count

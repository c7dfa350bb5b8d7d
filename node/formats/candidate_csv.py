"""Parse a candidate CSV export (spreadsheet, ATS) into validated rows and row errors.

Header row required; column names are case-insensitive (spaces and hyphens count as underscores):

    name*, email*, phone, location, skills*, medal, for_job,
    consent, consent_scope, consent_expires, consent_evidence          (* required)

- ``skills``: a comma/semicolon list inside the cell. ``medal``: silver | bronze | empty.
- ``consent``: purposes, e.g. "match,refer" (empty: no consent recorded). ``consent_scope``: "all",
  "sector:nonprofit", "node:<64 hex>", several separated by spaces or commas; required when consent is given
  (no default: "all", any organization, is never implied). ``consent_expires``: YYYY-MM-DD (or an RFC 3339
  time), as the admin API takes it (node/core/fields.py). ``consent_evidence``: required when consent is given.
- UTF-8 with or without BOM, CRLF or LF, blank lines skipped; a header without commas but with
  semicolons is read as a semicolon-separated file (European spreadsheet exports).

Rows are numbered as a spreadsheet shows them: the header is row 1, blank lines count.
A row with any error is left out of the result, and every error in it is reported.
**Error messages never quote a cell** — they name the row and column only, so an error report can be
shown or logged without leaking the candidate's personal data.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass

from node.core.fields import DATE_FORM, SCOPE_FORM, bad_scope_item, date_ms
from protocol.consent import split_scope
from protocol.jobs import MAX_SKILLS
from protocol.matching import split_skills

COLUMNS = ("name", "email", "phone", "location", "skills", "medal", "for_job",
           "consent", "consent_scope", "consent_expires", "consent_evidence")
REQUIRED = ("name", "email", "skills")
CSV_PURPOSES = ("match", "refer")
MEDALS = ("silver", "bronze")
MAX_LEN = {"name": 200, "email": 254, "phone": 40, "location": 200, "for_job": 300, "consent_evidence": 2000}
MAX_SKILL_LABEL = 200

_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_PHONE = re.compile(r"^\+?[0-9 ().\-/]+$")


@dataclass(frozen=True, slots=True)
class CandidateRow:
    """One valid candidate. ``row`` is its spreadsheet row number (header = 1)."""

    row: int
    name: str
    email: str  # as given, domain lower-cased
    skills: tuple[str, ...]
    phone: str | None = None
    location: str | None = None
    medal: str | None = None  # "silver" | "bronze"
    for_job: str | None = None
    consent: tuple[str, ...] = ()  # purposes, subset of ("match", "refer"); empty: no consent
    consent_scope: str = ""  # space-separated items; required when consent is given
    consent_expires: str | None = None  # YYYY-MM-DD
    consent_evidence: str = ""


@dataclass(frozen=True, slots=True)
class RowError:
    """What is wrong where. ``column`` is None for a whole-row or whole-file problem. Never holds cell values."""

    row: int
    column: str | None
    message: str

    def __str__(self) -> str:
        return f"row {self.row}" + (f" ({self.column})" if self.column else "") + f": {self.message}"


def _column_key(header: str) -> str:
    return re.sub(r"[\s-]+", "_", header.strip().lower())


def parse_candidates_csv(text: str) -> tuple[list[CandidateRow], list[RowError]]:
    """Parse the whole file: (valid rows in file order, errors in row order)."""
    text = text.removeprefix("\ufeff")
    first = next((line for line in text.split("\n") if line.strip()), "")
    delimiter = ";" if "," not in first and ";" in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    errors: list[RowError] = []
    rows: list[CandidateRow] = []
    header: list[str] | None = None
    seen_emails: dict[str, int] = {}
    number = 0
    try:
        for number, cells in enumerate(reader, 1):
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = [_column_key(c) for c in cells]
                if not _check_header(header, number, errors):
                    return [], errors
                continue
            if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
                errors.append(RowError(number, None, "row has more cells than the header has columns"))
                continue
            values = {key: (cells[i].strip() if i < len(cells) else "") for i, key in enumerate(header) if key in COLUMNS}
            parsed = _parse_row(number, values, errors)
            if parsed is None:
                continue
            email_key = parsed.email.casefold()
            if email_key in seen_emails:
                errors.append(RowError(number, "email", f"same email address as row {seen_emails[email_key]}"))
                continue
            seen_emails[email_key] = number
            rows.append(parsed)
    except csv.Error:
        errors.append(RowError(number + 1, None, "malformed CSV (check quotes); this row and the rest were not read"))
    if header is None:
        errors.append(RowError(1, None, "the file is empty: expected a header row"))
    errors.sort(key=lambda e: e.row)
    return rows, errors


def _check_header(header: list[str], number: int, errors: list[RowError]) -> bool:
    # Unknown header cells are named by position, not quoted: a file without a header row has personal data here.
    unknown = [_letter(i) for i, h in enumerate(header) if h not in COLUMNS]
    if unknown:
        errors.append(RowError(number, None, f"column(s) {', '.join(unknown)} have an unknown or empty name and are ignored "
                                             f"(known: {', '.join(COLUMNS)})"))
    duplicated = sorted({h for h in header if h and header.count(h) > 1})
    if duplicated:
        errors.append(RowError(number, None, f"column(s) appear more than once: {', '.join(duplicated)}"))
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        errors.append(RowError(number, None, f"missing required column(s): {', '.join(missing)} (is the first row a header?)"))
    return not duplicated and not missing


def _letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: the column as a spreadsheet labels it."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def _parse_row(number: int, v: dict[str, str], errors: list[RowError]) -> CandidateRow | None:
    """One row as a candidate, or None with every problem of the row appended to ``errors``."""
    before = len(errors)

    def fail(column: str, message: str) -> None:
        errors.append(RowError(number, column, message))

    for column, limit in MAX_LEN.items():
        if len(v.get(column, "")) > limit:
            fail(column, f"is longer than {limit} characters")
    name = " ".join(v.get("name", "").split())
    if not name:
        fail("name", "is required")
    email = _email(v.get("email", ""), fail)
    phone = v.get("phone") or None
    if phone is not None and (not _PHONE.match(phone) or not 6 <= sum(ch.isdigit() for ch in phone) <= 15):
        fail("phone", "is not a valid phone number (digits, spaces, + - ( ) . / only; 6 to 15 digits)")
    skills = _skills(v.get("skills", ""), fail)
    medal = v.get("medal", "").lower() or None
    if medal is not None and medal not in MEDALS:
        fail("medal", "must be silver, bronze or empty")
    purposes, scope_items, expires, evidence = _consent(v, fail)
    if len(errors) > before:
        return None
    return CandidateRow(
        row=number, name=name, email=email, skills=skills, phone=phone, location=v.get("location") or None,
        medal=medal, for_job=v.get("for_job") or None, consent=purposes,
        consent_scope=" ".join(scope_items), consent_expires=expires, consent_evidence=evidence,
    )


Fail = Callable[[str, str], None]


def _email(email: str, fail: Fail) -> str:
    """Required and plausible; the domain is lower-cased (the local part is the mailbox owner's)."""
    if not email:
        fail("email", "is required")
    elif not _EMAIL.match(email) or len(email) > MAX_LEN["email"]:
        fail("email", "is not a valid address")
    else:
        local, domain = email.rsplit("@", 1)
        email = f"{local}@{domain.lower()}"
    return email


def _skills(text: str, fail: Fail) -> tuple[str, ...]:
    skills = tuple(dict.fromkeys(split_skills(text)))
    if not skills:
        fail("skills", "is required (a comma- or semicolon-separated list)")
    elif len(skills) > MAX_SKILLS:
        fail("skills", f"at most {MAX_SKILLS} skills")
    elif any(len(s) > MAX_SKILL_LABEL for s in skills):
        fail("skills", f"a skill is longer than {MAX_SKILL_LABEL} characters")
    return skills


def _consent(v: dict[str, str], fail: Fail) -> tuple[tuple[str, ...], tuple[str, ...], str | None, str]:
    """The consent columns: purposes, scope items, expiry day and evidence, checked together."""
    purposes = tuple(dict.fromkeys(p.lower() for p in re.split(r"[,;\s]+", v.get("consent", "")) if p))
    if any(p not in CSV_PURPOSES for p in purposes):
        fail("consent", f"has an unknown purpose (use {', '.join(CSV_PURPOSES)}, separated by commas)")

    # The admin API's rules (node/core/fields.py): a cell refused here is refused by the API alike.
    scope_items = split_scope(v.get("consent_scope", ""))
    bad_scope = bad_scope_item(scope_items)
    if bad_scope is not None:
        fail("consent_scope", f"item {bad_scope} is not {SCOPE_FORM}")

    expires = v.get("consent_expires") or None
    if expires is not None:
        try:
            date_ms(expires, end_of_day=True)
        except (ValueError, OverflowError):
            fail("consent_expires", f"must be {DATE_FORM}")

    evidence = v.get("consent_evidence", "")
    if purposes and not evidence:
        fail("consent_evidence", "is required when consent is given (what the candidate agreed to, and how)")
    if purposes and not scope_items:
        # No default: the widest scope ("all") is never implied for a person (issue 8 acceptance).
        fail("consent_scope", "is required when consent is given (who may receive them: all, sector:<sector> or node:<id>)")
    if not purposes:
        for column in ("consent_scope", "consent_expires"):
            if v.get(column):
                fail(column, "is set but consent is empty (give the purposes, e.g. match,refer)")
    return purposes, scope_items, expires, evidence


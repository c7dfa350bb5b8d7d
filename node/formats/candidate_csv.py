"""Parse a candidate CSV file (spreadsheet, ATS export) into validated rows, refused rows and warnings.

The columns, their aliases and forms are documented in docs/cli.md ("CSV columns"); header names are
matched by node/formats/csv_columns.py, the bytes decoded by node/formats/csv_text.py.

Rows are numbered as a spreadsheet shows them: the header is row 1, blank lines count.
A row with any error is left out of the result, and every error in it is reported, naming the CSV
column as the file names it. **Error messages never quote a cell** — they name the row and column
only, so an error report can be shown or logged without leaking the candidate's personal data.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from node.core.fields import DATE_FORM, SCOPE_FORM, bad_scope_item, date_ms
from node.formats.csv_columns import FIELDS, Header, letter, resolve_header
from node.formats.csv_text import sniff_delimiter
from node.formats.emails import valid_email
from protocol.consent import PURPOSES, split_scope
from protocol.jobs import MAX_SKILLS
from protocol.matching import split_skills

COLUMNS = tuple(f for f in FIELDS if f not in ("first_name", "last_name"))  # what a candidate has (and export writes)
REQUIRED = ("name", "email", "skills")
CSV_PURPOSES = PURPOSES
MEDALS = ("silver", "bronze")
MAX_LEN = {"name": 200, "email": 254, "phone": 40, "location": 200, "for_job": 300, "consent_evidence": 2000,
           "notes": 4000}
MAX_SKILL_LABEL = 200
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet runs a cell starting so (OWASP "CSV injection")

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
    consent: tuple[str, ...] = ()  # purposes (protocol.consent.PURPOSES); empty: no consent
    consent_scope: str = ""  # space-separated items; required when consent is given
    consent_expires: str | None = None  # YYYY-MM-DD or RFC 3339
    consent_evidence: str = ""
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class RowError:
    """What is wrong where. ``column`` is the CSV column as the file names it (None for a whole-row or
    whole-file problem), ``field`` the candidate field it holds. Never holds cell values."""

    row: int
    column: str | None
    message: str
    field: str | None = None
    code: str | None = None  # stable, for the CLI's hints: "unknown_columns"

    def __str__(self) -> str:
        return f"row {self.row}" + (f" ({self.column})" if self.column else "") + f": {self.message}"


@dataclass(frozen=True, slots=True)
class ParsedCsv:
    """The whole file: valid rows, refused rows' errors, warnings (nothing refused), and counts."""

    rows: list[CandidateRow]
    errors: list[RowError]
    warnings: list[RowError] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # field -> CSV column name, for the node's errors
    delimiter: str = ","

    @property
    def refused(self) -> int:
        """Rows refused: distinct data rows with an error (row 1 is the header: its errors refuse none)."""
        return len({e.row for e in self.errors if e.row > 1})

    @property
    def total(self) -> int:
        return len(self.rows) + self.refused


def unescape_formula(cell: str) -> str:
    """Undo the export's formula guard: ``'=x`` (a leading ' before = + - @ tab CR) reads as ``=x``."""
    return cell[1:] if cell.startswith("'") and cell[1:2] in FORMULA_START else cell


def parse_candidates_csv(text: str, mapping: dict[str, str] | None = None) -> ParsedCsv:
    """Parse the whole file's text. ``mapping`` is the CLI's column map (csv_columns.parse_map); a COLUMN the
    header does not have raises csv_columns.ColumnMapError."""
    reader = CandidateCsvReader(text, mapping)
    for _ in reader.rows():
        pass
    return reader.result()


class CandidateCsvReader:
    """The file read row by row, so `candidate import` sends the first rows while it reads the rest
    (issue 11 item 2). ``rows()`` yields the valid rows in file order; once it is exhausted,
    ``result()`` is what ``parse_candidates_csv`` returns. The header is read when the reader is
    made, so a bad ``mapping`` raises csv_columns.ColumnMapError there, before any row is yielded."""

    def __init__(self, text: str, mapping: dict[str, str] | None = None) -> None:
        self.delimiter, text = sniff_delimiter(text.removeprefix("\ufeff"))
        self._reader = enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter, strict=True), 1)
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []
        self.valid: list[CandidateRow] = []
        self.header: Header | None = None
        self._usable = False
        self._number = 0
        self._done = False
        self._read_header(mapping or {})

    @property
    def columns(self) -> dict[str, str]:
        return self.header.names if self.header else {}

    def _read_header(self, mapping: dict[str, str]) -> None:
        try:
            for number, cells in self._reader:
                self._number = number
                if any(cell.strip() for cell in cells):
                    self.header = resolve_header(cells, mapping)
                    self._usable = _check_header(self.header, self._number, self.errors, self.warnings)
                    return
        except csv.Error:
            self.errors.append(RowError(self._number + 1, None, "malformed CSV (check quotes); this row and the rest were not read"))
        self.errors.append(RowError(1, None, "the file is empty: expected a header row"))

    def rows(self) -> Iterator[CandidateRow]:
        """The valid rows, each as soon as it is read; every refused row's errors go to ``errors``."""
        header = self.header
        if header is None or not self._usable:
            self._done = True
            return
        seen_emails: dict[str, int] = {}
        try:
            for number, cells in self._reader:
                self._number = number
                if not any(cell.strip() for cell in cells):
                    continue
                if len(cells) > len(header.fields) and any(c.strip() for c in cells[len(header.fields):]):
                    self.errors.append(RowError(self._number, None, "row has more cells than the header has columns"))
                    continue
                parsed = _parse_row(self._number, _values(header, cells), header, self.errors)
                if parsed is None:
                    continue
                email_key = parsed.email.casefold()
                if email_key in seen_emails:
                    self.errors.append(RowError(self._number, header.name_of("email"),
                                                f"same email address as row {seen_emails[email_key]}", "email"))
                    continue
                seen_emails[email_key] = self._number
                self.valid.append(parsed)
                yield parsed
        except csv.Error:
            self.errors.append(RowError(self._number + 1, None, "malformed CSV (check quotes); this row and the rest were not read"))
        self._done = True

    def result(self) -> ParsedCsv:
        """The whole file, once ``rows()`` has been read to its end."""
        assert self._done, "read rows() to the end first"
        self.errors.sort(key=lambda e: e.row)
        return ParsedCsv(self.valid if self._usable else [], self.errors, self.warnings, self.columns, self.delimiter)


def _values(header: Header, cells: list[str]) -> dict[str, str]:
    """The row's cells by field; first and last name joined into ``name`` when there is no name column."""
    values = {f: unescape_formula(cells[i].strip() if i < len(cells) else "").strip()
              for i, f in enumerate(header.fields) if f}
    if "name" not in values and ("first_name" in values or "last_name" in values):
        values["name"] = " ".join(values.get(f, "") for f in ("first_name", "last_name")).strip()
    return values


def _check_header(header: Header, number: int, errors: list[RowError], warnings: list[RowError]) -> bool:
    if header.unknown:
        # Unknown header cells are named by position, not quoted: a file without a header row has personal data here.
        warnings.append(RowError(number, None, f"column(s) {', '.join(header.unknown)} have an unknown or empty name and are "
                                               f"ignored (known: {', '.join(FIELDS)})", code="unknown_columns"))
    if header.duplicated:
        errors.append(RowError(number, None, "two columns hold the same field: " + ", ".join(
            f"{f} ({' and '.join(_letters_of(header, f))})" for f in header.duplicated)))
    has_name = "name" in header.names
    missing = [c for c in REQUIRED if c not in header.fields and not (c == "name" and has_name)]
    if missing:
        errors.append(RowError(number, None, f"missing required column(s): {', '.join(missing)} (is the first row a header? "
                                             "docs/cli.md lists the column names read)"))
    return not header.duplicated and not missing


def _letters_of(header: Header, name: str) -> list[str]:
    return [letter(i) for i, f in enumerate(header.fields) if f == name]


def _parse_row(number: int, v: dict[str, str], header: Header, errors: list[RowError]) -> CandidateRow | None:
    """One row as a candidate, or None with every problem of the row appended to ``errors``."""
    before = len(errors)

    def fail(column: str, message: str) -> None:
        errors.append(RowError(number, header.name_of(column), message, column))

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
        notes=v.get("notes") or None,
    )


Fail = Callable[[str, str], None]


def _email(email: str, fail: Fail) -> str:
    """Required and plausible (internationalised addresses too); the domain is lower-cased (the local
    part is the mailbox owner's)."""
    if not email:
        fail("email", "is required")
        return email
    checked = valid_email(email)
    if checked is None or len(email) > MAX_LEN["email"]:
        fail("email", "is not a valid address")
        return email
    return checked


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


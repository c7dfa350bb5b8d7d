"""Which CSV column holds which candidate field: header aliases and ``--map COLUMN=FIELD``.

Header names are compared case-, space- and punctuation-insensitively (``E-Mail``, ``e_mail`` and
``EMAIL`` are all ``email``), so exports of common spreadsheets and ATSs import without editing.
The table below is also what docs/cli.md documents (tests/node/test_candidate_csv.py checks it).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# field -> the header names that mean it (normalised: see ``column_key``). The field name itself first.
ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "fullname", "candidatename", "candidate", "displayname", "nom", "nombre"),
    "first_name": ("firstname", "givenname", "forename", "first", "prenom", "vorname"),
    "last_name": ("lastname", "surname", "familyname", "last", "nachname", "apellido", "apellidos"),
    "email": ("email", "emailaddress", "mail", "mailaddress", "emailid", "courriel", "correo", "correoelectronico"),
    "phone": ("phone", "phonenumber", "telephone", "telephonenumber", "tel", "mobile", "mobilephone", "mobilenumber",
              "cell", "cellphone", "telefono", "telefon"),
    "location": ("location", "city", "town", "address", "place", "ort", "ville", "ciudad"),
    "skills": ("skills", "skill", "skillset", "competences", "competencies", "competence", "competency", "expertise",
               "kompetenzen", "competencias"),
    "medal": ("medal", "runnerup"),
    "for_job": ("forjob", "job", "appliedfor", "position", "vacancy", "role"),
    "consent": ("consent", "consentpurposes", "purposes"),
    "consent_scope": ("consentscope", "scope"),
    "consent_expires": ("consentexpires", "consentexpiry", "consentexpiration", "expires"),
    "consent_evidence": ("consentevidence", "evidence"),
    "notes": ("notes", "note", "comments", "comment", "remarks"),
}
FIELDS = tuple(ALIASES)
IGNORE = "ignore"  # ``--map COLUMN=ignore``: the column is read by nobody
_BY_KEY = {alias: field for field, aliases in ALIASES.items() for alias in aliases}


class ColumnMapError(ValueError):
    """A ``--map`` that cannot apply (an unknown field, or a column the file does not have)."""

    code = "csv_bad_map"


def column_key(header: str) -> str:
    """``"E-Mail Address "`` -> ``"emailaddress"``: case, accents, spaces and punctuation do not count."""
    text = unicodedata.normalize("NFKD", header.strip().removeprefix("\ufeff")).casefold()
    return re.sub(r"[\W_]+", "", "".join(ch for ch in text if not unicodedata.combining(ch)))


def letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: the column as a spreadsheet labels it."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def parse_map(items: list[str]) -> dict[str, str]:
    """``["Kompetenz=skills"]`` -> {column key: field}; an unknown FIELD is refused naming the known ones."""
    mapping: dict[str, str] = {}
    for item in items:
        column, sep, field = item.partition("=")
        field_key = field.strip().lower().replace("-", "_")
        if not sep or not column.strip():
            raise ColumnMapError(f"--map {item!r}: expected COLUMN=FIELD: write it like --map \"Kompetenzen=skills\"")
        if field_key not in FIELDS and field_key != IGNORE:
            raise ColumnMapError(f"--map {item!r}: unknown field {field.strip()!r} (known fields: {', '.join(FIELDS)}, "
                                 f"or {IGNORE} to skip the column): use one of the known fields")
        mapping[column_key(column) or column.strip()] = field_key
    return mapping


@dataclass(frozen=True, slots=True)
class Header:
    """The file's header resolved: ``fields[i]`` is the field column ``i`` holds (None: ignored);
    ``names[field]`` the column as the file names it, for messages (``"E-Mail"``, ``"First Name + Last Name"``)."""

    fields: tuple[str | None, ...]
    names: dict[str, str]
    unknown: tuple[str, ...]  # spreadsheet letters of columns nobody reads (header cells are not quoted)
    duplicated: tuple[str, ...]  # fields two columns claim
    cells: tuple[str, ...] = ()  # the header row as the file has it (the dashboard's column form shows it)

    def name_of(self, field: str) -> str:
        return self.names.get(field, field)


def resolve_header(cells: list[str], mapping: dict[str, str]) -> Header:
    """Each header cell's field by ``--map`` first (by header text or spreadsheet letter), then by alias.
    A ``--map`` COLUMN the header does not have is refused, naming the file's columns."""
    keys = [column_key(c) for c in cells]
    letters = [letter(i) for i in range(len(cells))]
    for column in mapping:
        if column not in keys and column.upper() not in letters:
            raise ColumnMapError(f"--map: the file has no column {column!r}; its columns are "
                                 + ", ".join(_shown(c, k, lt) for c, k, lt in zip(cells, keys, letters, strict=True))
                                 + ": use one of them, or its letter (e.g. --map C=skills)")
    fields: list[str | None] = []
    for key, lt in zip(keys, letters, strict=True):
        field = mapping.get(key) or mapping.get(lt.lower()) or _BY_KEY.get(key)
        fields.append(None if field == IGNORE else field)
    names = {f: cells[i].strip().removeprefix("\ufeff") for i, f in enumerate(fields) if f}
    if "name" not in names and ("first_name" in names or "last_name" in names):
        names["name"] = " + ".join(names[f] for f in ("first_name", "last_name") if f in names)
    unknown = tuple(lt for lt, key, f in zip(letters, keys, fields, strict=True)
                    if f is None and mapping.get(key) != IGNORE and mapping.get(lt.lower()) != IGNORE)
    duplicated = tuple(sorted({f for f in fields if f and fields.count(f) > 1}))
    return Header(tuple(fields), names, unknown, duplicated, tuple(c.strip().removeprefix("\ufeff") for c in cells))


def _shown(cell: str, key: str, column_letter: str) -> str:
    """A header cell in a message: quoted only when it is a known column name — an unrecognised first
    row may be a candidate's data (a file without a header row), so it is named by its letter."""
    return f"{column_letter} ({cell.strip()})" if key in _BY_KEY else column_letter

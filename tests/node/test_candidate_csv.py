"""Candidate CSV import: good rows, bad rows, file quirks — and no personal data in any error."""

from __future__ import annotations

from node.formats.candidate_csv import CandidateRow, RowError, parse_candidates_csv


def parse(text: str, mapping: dict[str, str] | None = None) -> tuple[list[CandidateRow], list[RowError]]:
    """(valid rows, errors and warnings in row order), as the file's report lists them."""
    parsed = parse_candidates_csv(text, mapping)
    return parsed.rows, sorted(parsed.errors + parsed.warnings, key=lambda e: e.row)

NODE_HEX = "ab" * 32

GOOD = (
    "Name,Email,Phone,Location,Skills,Medal,For_Job,Consent,Consent_Scope,Consent_Expires,Consent_Evidence\n"
    "Amina Diallo,amina@Example.ORG,+44 20 7946 0958,Leeds,\"Python; project management, SQL\",silver,Data analyst,"
    f"\"match,refer\",sector:nonprofit node:{NODE_HEX},2027-03-31,signed form v3\n"
    "Jonas Berg,jonas.berg@example.com,,,forklift,,,,,,\n"
)


def test_good_rows():
    rows, errors = parse(GOOD)
    assert errors == []
    assert rows == [
        CandidateRow(row=2, name="Amina Diallo", email="amina@example.org", skills=("Python", "project management", "SQL"),
                     phone="+44 20 7946 0958", location="Leeds", medal="silver", for_job="Data analyst",
                     consent=("match", "refer"), consent_scope=f"sector:nonprofit node:{NODE_HEX}",
                     consent_expires="2027-03-31", consent_evidence="signed form v3"),
        CandidateRow(row=3, name="Jonas Berg", email="jonas.berg@example.com", skills=("forklift",)),
    ]


def test_bom_crlf_blank_lines_case_and_column_order():
    text = "\ufeffSKILLS,e-mail,Name\r\n\r\n\"js, excel\",a@b.co,A  B\r\n   \r\nc,c@d.co,C\r\n"
    text = text.replace("e-mail", "Email")
    rows, errors = parse(text)
    assert errors == []
    assert [(r.row, r.name, r.email, r.skills) for r in rows] == [(3, "A B", "a@b.co", ("js", "excel")), (5, "C", "c@d.co", ("c",))]


def test_semicolon_separated_file_and_multiline_cell():
    text = 'name;email;skills;consent_evidence\nA;a@b.co;"x, y";\nB;b@b.co;z;"line one\nline two"\nC;c@b.co;w;\n'
    rows, errors = parse(text)
    assert errors == []
    assert [r.row for r in rows] == [2, 3, 4]
    assert rows[0].skills == ("x", "y")
    assert rows[1].consent_evidence == "line one\nline two"


def test_unknown_columns_reported_once_for_the_header():
    text = "name,email,skills,shoe size,\nA,a@b.co,x,42,\nB,b@b.co,y,43,\n"
    rows, errors = parse(text)
    assert len(rows) == 2
    assert len(errors) == 1
    assert errors[0].row == 1 and errors[0].column is None
    assert "D, E" in errors[0].message


def test_header_problems_stop_the_import():
    rows, errors = parse("name,skills\nA,x\n")
    assert rows == [] and [e.row for e in errors] == [1] and "email" in errors[0].message
    rows, errors = parse("name,email,email,skills\nA,a@b.co,a@b.co,x\n")
    assert rows == [] and "two columns hold the same field: email (B and C)" == errors[0].message
    assert parse("") == ([], [RowError(1, None, "the file is empty: expected a header row")])
    assert parse("\ufeff\r\n\r\n")[1][0].row == 1
    assert parse("name,email,skills\r\n") == ([], [])


def test_file_without_header_does_not_leak_the_first_row():
    text = "Jane Roe,jane.roe@example.net,nursing\nJohn Poe,john@example.net,care\n"
    rows, errors = parse(text)
    assert rows == []
    joined = " ".join(str(e) for e in errors)
    for secret in ("Jane", "Roe", "jane.roe", "example", "nursing"):
        assert secret not in joined


BAD_ROWS = [
    # (cells after the header "name,email,phone,skills,medal,consent,consent_scope,consent_expires,consent_evidence", column)
    ("Zed Secret,,,x,,,,,", "email"),
    (",zed@secret.example,,x,,,,,", "name"),
    ("Zed Secret,zed(at)secret.example,,x,,,,,", "email"),
    ("Zed Secret,zed@secret,,x,,,,,", "email"),
    ("Zed Secret,zed secret@secret.example,,x,,,,,", "email"),
    ("Zed Secret,zed@secret.example,call me maybe,x,,,,,", "phone"),
    ("Zed Secret,zed@secret.example,12,x,,,,,", "phone"),
    ("Zed Secret,zed@secret.example,,,,,,,", "skills"),
    ("Zed Secret,zed@secret.example,,\" ; , \",,,,,", "skills"),
    ("Zed Secret,zed@secret.example,,x,gold,,,,", "medal"),
    ("Zed Secret,zed@secret.example,,x,,match;sell,all,,proof", "consent"),
    ("Zed Secret,zed@secret.example,,x,,match,everyone,,proof", "consent_scope"),
    ("Zed Secret,zed@secret.example,,x,,match,sector:bank,,proof", "consent_scope"),
    ("Zed Secret,zed@secret.example,,x,,match,node:abc,,proof", "consent_scope"),
    ("Zed Secret,zed@secret.example,,x,,match,all,31/03/2027,proof", "consent_expires"),
    ("Zed Secret,zed@secret.example,,x,,match,all,2027-02-30,proof", "consent_expires"),
    ("Zed Secret,zed@secret.example,,x,,match,all,,", "consent_evidence"),
    ("Zed Secret,zed@secret.example,,x,,,all,,", "consent_scope"),
    ("Zed Secret,zed@secret.example,,x,,match,,,proof", "consent_scope"),  # consent without a scope: no default
    ("Zed Secret,zed@secret.example,,x,,,,2027-01-01,", "consent_expires"),
]
BAD_HEADER = "name,email,phone,skills,medal,consent,consent_scope,consent_expires,consent_evidence\n"
SECRETS = ("Zed", "Secret", "zed@", "secret.example", "call me", "everyone", "bank", "31/03", "gold", "sell")


def test_bad_rows_name_row_and_column_never_the_data():
    text = BAD_HEADER + "Good One,good@ok.example,,x,,,,,\n" + "\n".join(cells for cells, _ in BAD_ROWS) + "\n"
    rows, errors = parse(text)
    assert [r.name for r in rows] == ["Good One"]
    by_row = {e.row: e for e in errors}
    assert len(by_row) == len(BAD_ROWS) == len(errors)
    for offset, (_, column) in enumerate(BAD_ROWS):
        error = by_row[3 + offset]
        assert error.column == column, (offset, error)
        for secret in SECRETS:
            assert secret.lower() not in error.message.lower() and secret.lower() not in str(error).lower(), (secret, error)
    assert by_row[5].message == "is not a valid address"


def test_several_errors_in_one_row_are_all_reported():
    rows, errors = parse(BAD_HEADER + ",not-an-email,,,platinum,,,,\n")
    assert rows == []
    assert {e.column for e in errors} == {"name", "email", "skills", "medal"}
    assert all(e.row == 2 for e in errors)


def test_duplicate_emails_within_the_file():
    text = "name,email,skills\nA,same@example.org,x\nB,other@example.org,y\nC,SAME@Example.org,z\n"
    rows, errors = parse(text)
    assert [r.row for r in rows] == [2, 3]
    assert errors == [RowError(4, "email", "same email address as row 2", "email")]


def test_extra_cells_and_short_rows():
    text = "name,email,skills\nA,a@b.co,x,surplus\nB,b@b.co\nC,c@b.co,z,\n"
    rows, errors = parse(text)
    assert [r.row for r in rows] == [4]
    assert [(e.row, e.column) for e in errors] == [(2, None), (3, "skills")]


def test_malformed_quotes_reported_without_data():
    rows, errors = parse('name,email,skills\nA,a@b.co,x\n"Zed "Secret,z@s.example,y\n')
    assert all("Secret" not in str(e) for e in errors)
    assert [r.row for r in rows] == [2]
    assert [(e.row, e.column) for e in errors] == [(3, None)] and "malformed" in errors[0].message


def test_long_cells_refused():
    rows, errors = parse("name,email,skills\n" + "N" * 201 + ",a@b.co,x\n")
    assert rows == [] and errors[0].column == "name" and "N" * 10 not in errors[0].message


# --- issue 12 item 2: headers as spreadsheets write them, encodings, delimiters, binary files, IDN -----

import codecs  # noqa: E402
import re  # noqa: E402

import pytest  # noqa: E402

from node.formats.candidate_csv_export import candidates_csv, guard_formula  # noqa: E402
from node.formats.csv_columns import ALIASES, ColumnMapError, column_key, parse_map  # noqa: E402
from node.formats.csv_text import CsvFileError, decode_csv_bytes, sniff_delimiter  # noqa: E402


def test_header_aliases_case_space_punctuation_insensitive():
    text = "First Name,Last Name,E-Mail Address,Mobile,Competences,Town\nAmina,Diallo,amina@example.org,+44 20 7946 0958,x; y,Leeds\n"
    rows, errors = parse(text)
    assert errors == []
    assert (rows[0].name, rows[0].email, rows[0].phone, rows[0].skills, rows[0].location) == (
        "Amina Diallo", "amina@example.org", "+44 20 7946 0958", ("x", "y"), "Leeds")
    for header in ("E-Mail", "Email Address", "e_mail", "EMAIL", " e.mail "):
        assert column_key(header) in ALIASES["email"], header
    for header in ("Phone", "Telephone", "Mobile", "Phone Number"):
        assert column_key(header) in ALIASES["phone"], header
    # Errors name the column as the file names it (and the joined name as both columns).
    rows, errors = parse("First Name,Last Name,E-Mail,Skills\n,,bad,x\n")
    assert {(e.column, e.field) for e in errors} == {("First Name + Last Name", "name"), ("E-Mail", "email")}
    assert str(errors[0]).startswith("row 2 (")


def test_map_column_to_field_by_name_or_letter():
    text = "Kandidat,Mail,Kenntnisse,Schuhgröße\nA,a@b.co,x,42\n"
    rows, errors = parse(text, parse_map(["Kandidat=name", "kenntnisse=skills", "D=ignore"]))
    assert [(r.name, r.email, r.skills) for r in rows] == [("A", "a@b.co", ("x",))] and errors == []
    rows, errors = parse(text, parse_map(["A=name", "C=skills"]))
    assert len(rows) == 1 and [e.message for e in errors if "D" in e.message]  # D unknown: a warning only
    with pytest.raises(ColumnMapError, match=r"unknown field 'skils' \(known fields: name, first_name.*notes, or ignore"):
        parse_map(["Kenntnisse=skils"])
    with pytest.raises(ColumnMapError, match="expected COLUMN=FIELD"):
        parse_map(["skills"])
    with pytest.raises(ColumnMapError, match=r"no column 'kompetenz'; its columns are A, B \(Mail\), C, D"):
        parse(text, parse_map(["Kompetenz=skills"]))


@pytest.mark.parametrize(("text", "delimiter"), [
    ("name,email,skills\nA,a@b.co,\"x; y\"\n", ","),
    ("name;email;skills\nA;a@b.co;\"x, y\"\n", ";"),
    ("name\temail\tskills\nA\ta@b.co\tx, y\n", "\t"),
    ("\"last, first\";email;skills\nA;a@b.co;x, y\n", ";"),  # a comma inside a quoted header cell does not count
])
def test_delimiter_detected(text, delimiter):
    assert sniff_delimiter(text)[0] == delimiter


def test_excel_sep_line():
    parsed = parse_candidates_csv("sep=;\r\nname;email;skills\r\nA;a@b.co;x, y\r\n")
    assert parsed.delimiter == ";" and [(r.row, r.skills) for r in parsed.rows] == [(2, ("x", "y"))]


TEXT = "name;email;skills\r\nJosé Müller;josé@example.es;Ärztin, café\r\n"


@pytest.mark.parametrize(("raw", "encoding"), [
    (TEXT.encode(), "UTF-8"),
    (codecs.BOM_UTF8 + TEXT.encode(), "UTF-8 (with BOM)"),
    (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "UTF-16 LE"),
    (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "UTF-16 BE"),
    (TEXT.replace("josé@example.es", "jose@example.es").encode("cp1252"), "Windows-1252"),
])
def test_encodings_detected(raw, encoding):
    decoded = decode_csv_bytes(raw)
    assert decoded.encoding == encoding
    rows = parse_candidates_csv(decoded.text).rows
    assert rows[0].name == "José Müller" and rows[0].skills == ("Ärztin", "café")


@pytest.mark.parametrize("raw", [
    b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + bytes(range(256)),  # an .xlsx is a zip
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(200),  # .xls
    bytes(range(256)) * 4,  # random bytes: not UTF-8, and not Windows-1252 either
    b"name,email\n\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f",  # control characters
])
def test_binary_refused_as_binary_not_windows_1252(raw):
    with pytest.raises(CsvFileError, match="binary file") as caught:
        decode_csv_bytes(raw)
    assert caught.value.code == "csv_binary" and "1252" not in str(caught.value)


def test_utf16_bom_with_broken_content_is_not_guessed():
    with pytest.raises(CsvFileError, match="UTF-16 LE mark but is not valid"):
        decode_csv_bytes(codecs.BOM_UTF16_LE + "ab".encode("utf-16-le") + b"\x00\xd8")  # a lone surrogate


@pytest.mark.parametrize("address", ["josé@example.es", "info@bücher.de", "用户@例子.广告", "o'brien+jobs@example.co.uk",
                                     "a@xn--bcher-kva.de"])
def test_internationalised_email_accepted(address):
    rows, errors = parse(f"name,email,skills\nA,{address},x\n")
    assert errors == [] and rows[0].email == address


@pytest.mark.parametrize("address", ["a@@b.org", "a@b", "a@b.c", "a@-b.org", "a..b@b.org", ".a@b.org", "a@b..org",
                                     "a\u200b@b.org", "a@b_c.org", "@b.org", "a@"])
def test_malformed_email_still_refused(address):
    rows, errors = parse(f"name,email,skills\nA,{address},x\n")
    assert rows == [] and [(e.column, e.message) for e in errors] == [("email", "is not a valid address")]


def test_counts_agree():
    parsed = parse_candidates_csv("name,email,skills,shoe\nA,a@b.co,x,1\n\nB,bad,x,2\nC,c@b.co,,3\nD,d@b.co,y,4\n")
    assert (len(parsed.rows), parsed.refused, parsed.total) == (2, 2, 4)
    assert [w.row for w in parsed.warnings] == [1]  # the unknown column: a warning, refuses no row


@pytest.mark.parametrize("cell", ["=1+2", "+44 20 7946 0958", "-5", "@SUM(A1)", "\tx", "\rx", "=HYPERLINK(\"http://x\")"])
def test_formula_cells_are_guarded_and_round_trip(cell):
    assert guard_formula(cell) == "'" + cell
    text, count = candidates_csv([{"name": cell if cell[0] not in "\t\r" else "N" + cell, "email": "a@b.co",
                                   "skills": ["x"], "location": cell, "notes": cell, "consents": []}])
    assert count == 1
    for line in text.splitlines()[1:]:
        for field in line.split(","):
            assert not field.lstrip('"').startswith(("=", "+", "-", "@", "\t", "\r")), line
    row = parse_candidates_csv(text).rows[0]
    assert row.location == cell.strip() and row.notes == cell.strip()


def test_export_writes_the_import_columns_never_erased():
    candidates = [
        {"name": "Amina Diallo", "email": "amina@example.org", "phone": "+44 20 7946 0958", "location": "Leeds",
         "skills": ["forklift", "excel"], "medal": "silver", "for_job": "Team lead", "notes": "met at fair",
         "consents": [{"purposes": ["match"], "scope": ["all"], "expires_at": None, "state": "withdrawn", "evidence": "old"},
                      {"purposes": ["match", "refer"], "scope": ["sector:nonprofit"], "expires_at": 1806537599000,
                       "state": "given", "evidence": "signed form"}]},
        {"name": "", "email": "", "skills": [], "consents": [], "erased": True},
    ]
    text, count = candidates_csv(candidates)
    assert count == 1 and text.splitlines()[0] == ("name,email,phone,location,skills,medal,for_job,consent,consent_scope,"
                                                   "consent_expires,consent_evidence,notes")
    row = parse_candidates_csv(text).rows[0]
    assert (row.name, row.phone, row.skills, row.medal, row.for_job, row.consent, row.consent_scope, row.consent_evidence,
            row.notes) == ("Amina Diallo", "+44 20 7946 0958", ("forklift", "excel"), "silver", "Team lead",
                           ("match", "refer"), "sector:nonprofit", "signed form", "met at fair")
    assert row.consent_expires == "2027-03-31T23:59:59Z"


def test_docs_cli_md_documents_every_column_and_alias():
    """docs/cli.md's "CSV columns" table lists each field and every alias the parser knows (as people write them)."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    table = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`") and cells[0].strip("`") in ALIASES:
            table[cells[0].strip("`")] = cells[1]
    assert set(table) == set(ALIASES)
    for field, aliases in ALIASES.items():
        documented = {column_key(a) for a in re.split(r",", table[field])} | {column_key(field)}
        # "Telephone (Number)" documents telephone and telephonenumber; "Correo (electrónico)" correo and correoelectronico.
        documented |= {column_key(re.sub(r"\(.*?\)", "", a)) for a in table[field].split(",")}
        documented |= {column_key(re.sub(r"\((.*?)\)", lambda m: m.group(1).split("/")[0], a)) for a in table[field].split(",")}
        documented |= {column_key(re.sub(r"\((.*?)\)", lambda m: m.group(1).split("/")[-1], a)) for a in table[field].split(",")}
        missing = [a for a in aliases if a not in documented]
        assert not missing, (field, missing)


def test_node_refusals_name_the_csv_column_not_the_option():
    """A row the node refuses (POST /candidates/import answers field names) is worded for the file."""
    from node.core.csv_import import node_error as _node_error

    columns = {"consent_evidence": "Nachweis", "email": "E-Mail"}
    got = _node_error({"row": 7, "error": "recording consent needs consent_evidence (what the candidate agreed to, and how)",
                       "field": "consent_evidence"}, columns)
    assert got == {"row": 7, "column": "Nachweis", "field": "consent_evidence",
                   "error": "recording consent needs Nachweis (what the candidate agreed to, and how)"}
    got = _node_error({"row": 3, "error": "a candidate with this email address is already recorded here", "field": "email"}, columns)
    assert got["column"] == "E-Mail" and "--" not in got["error"]
    assert _node_error({"row": 4, "error": "x", "field": None}, columns)["column"] is None

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

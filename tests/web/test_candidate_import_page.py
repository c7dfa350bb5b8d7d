"""Correcting a candidate and importing a CSV file on the candidates pages (issue 14): real node, real
HTTP. The preview reads the file as `orgnode candidate import` does (encoding, separator, header
aliases) and imports nothing; the column form is the CLI's ``--map``; the import reports per row as
the CLI does. A viewer, a form without its token and a cross-site post are refused and import nothing;
an upload over the bound is refused."""

from __future__ import annotations

import base64
import re

import aiohttp

from node.web.candidate_import import MAX_CSV_BYTES
from tests.web.helpers import EVIL, Browserless, signed_in

# Windows-1252, semicolons, German headers; "Kompetenzen" is an alias of skills, "Fähigkeiten" is not.
CSV = ("Name;E-Mail;Fähigkeiten;Telefon;Notiz\r\n"
       "Zoë Müller;zoe@example.org;Pflege, Fahren;+49 30 1234567;erste\r\n"
       "Ada Lovelace;not-an-email;Rechnen;;\r\n"
       "Grace Hopper;grace@example.org;COBOL;;\r\n").encode("cp1252")


async def upload(http, client: Browserless, path: str, fields: dict[str, str], file: bytes | None = None,
                 headers: dict[str, str] | None = None) -> tuple[int, str]:
    form = aiohttp.FormData()
    for key, value in fields.items():
        form.add_field(key, value)
    if file is not None:
        form.add_field("file", file, filename="people.csv", content_type="text/csv")
    async with http.post(client.base + path, data=form, headers=client.headers(headers), allow_redirects=False) as resp:
        return resp.status, await resp.text()


async def test_preview_map_a_column_then_import_with_the_cli_report_and_refusals(net, http):
    node = await net.start("Youth Futures")
    node.talent.add_candidate(name="Grace H.", email="grace@example.org", skills=["cobol"])
    viewer = await signed_in(http, node, "vera", "viewer")
    staff = await signed_in(http, node, "sam", "staff")
    assert (await viewer.get("/candidates/import"))[0] == 403
    vtoken, token = await viewer.token("/candidates"), await staff.token("/candidates")
    assert (await upload(http, viewer, "/candidates/import/preview", {"csrf": vtoken}, CSV))[0] == 403
    assert (await upload(http, staff, "/candidates/import/preview", {}, CSV))[0] == 403  # no token
    data = base64.b64encode(CSV).decode()
    assert (await upload(http, staff, "/candidates/import", {"csrf": token, "data": data, "col-2": "skills"}, headers=EVIL))[0] == 403
    assert (await upload(http, viewer, "/candidates/import", {"csrf": vtoken, "data": data, "col-2": "skills"}))[0] == 403
    assert len(node.talent.store.candidates()) == 1

    status, html = await upload(http, staff, "/candidates/import/preview", {"csrf": token}, CSV)
    assert status == 200 and "Windows-1252" in html and "semicolons" in html
    assert "missing required column(s): skills" in html and "Import " not in html.split("Problems in the file")[-1]
    # the header aliases pre-filled as the CLI detects them: Name, E-Mail, Telefon read; Fähigkeiten, Notiz not
    assert re.search(r'name="col-1">.*?<option value="email" selected>', html, re.S)
    assert re.search(r'name="col-3">.*?<option value="phone" selected>', html, re.S)
    assert re.search(r'name="col-2">.*?<option value="ignore" selected>', html, re.S)
    [carried] = re.findall(r'name="data" value="([^"]+)"', html)
    assert base64.b64decode(carried) == CSV

    mapped = {"csrf": token, "data": carried, "file_name": "people.csv", "col-2": "skills", "col-4": "notes"}
    status, html = await upload(http, staff, "/candidates/import/preview", mapped)
    assert status == 200 and "1 row can be imported, 2 will be refused" in html
    assert 'data-row="2" data-ok="yes"' in html and "Zoë Müller" in html and "Pflege, Fahren" in html
    assert 'data-row="3" data-ok="no"' in html and "E-Mail: is not a valid address" in html
    assert 'data-row="4" data-ok="no"' in html and "already recorded here" in html
    assert "Import 1 candidate<" in html
    assert len(node.talent.store.candidates()) == 1  # a preview imports nothing

    status, html = await upload(http, staff, "/candidates/import", mapped)
    assert status == 200 and "Imported 1 of 3 candidate rows; 2 rows refused" in html
    assert "Row 3 (E-Mail): is not a valid address" in html and "Row 4 (E-Mail):" in html
    zoe = next(c for c in node.talent.store.candidates() if c.email == "zoe@example.org")
    assert zoe.name == "Zoë Müller" and zoe.skills == ("Pflege", "Fahren") and zoe.notes == "erste"

    status, html = await upload(http, staff, "/candidates/import/preview", {"csrf": token}, b"x" * (MAX_CSV_BYTES + 1))
    assert status == 400 and "larger than 4 MiB" in html
    status, html = await upload(http, staff, "/candidates/import/preview", {"csrf": token}, b"PK\x03\x04rest")
    assert status == 400 and "binary file" in html
    status, html = await upload(http, staff, "/candidates/import/preview", {**mapped, "col-2": "shoe size"})
    assert status == 400 and "unknown field" in html
    assert len(node.talent.store.candidates()) == 2


async def test_staff_correct_a_candidate_and_a_viewer_or_a_forged_form_cannot(net, http):
    node = await net.start("Youth Futures")
    ada, _ = node.talent.add_candidate(name="Ada Lovelace", email="ada@example.org", skills=["driving"], medal="silver")
    node.talent.add_candidate(name="Grace Hopper", email="grace@example.org", skills=["cobol"])
    cid = ada.candidate_id.hex()
    viewer = await signed_in(http, node, "vera", "viewer")
    staff = await signed_in(http, node, "sam", "staff")
    form = {"name": "Ada King", "email": "ada@example.org", "skills": "driving, maths", "phone": "", "location": "London",
            "medal": "", "for_job": "", "notes": "<b>prefers mornings</b>"}
    _, html, _ = await viewer.get("/candidates")
    assert f"/candidates/{cid}/edit" not in html
    assert (await viewer.get(f"/candidates/{cid}/edit"))[0] == 403
    assert (await viewer.post(f"/candidates/{cid}/edit", {"csrf": await viewer.token("/candidates"), **form}))[0] == 403
    assert (await staff.post(f"/candidates/{cid}/edit", form))[0] == 403
    token = await staff.token("/candidates")
    assert (await staff.post(f"/candidates/{cid}/edit", {"csrf": token, **form}, headers=EVIL))[0] == 403
    status, html, _ = await staff.post(f"/candidates/{cid}/edit", {"csrf": token, **form, "email": "grace@example.org"})
    assert status == 400 and "another candidate already has this email address" in html and 'aria-invalid="true"' in html
    assert node.talent.store.candidate(ada.candidate_id) == ada  # every refusal: nothing changed

    status, html, _ = await staff.get(f"/candidates/{cid}/edit")
    assert status == 200 and 'value="Ada Lovelace"' in html and '<option value="silver" selected>' in html
    status, _, resp = await staff.post(f"/candidates/{cid}/edit", {"csrf": token, **form})
    assert status == 303 and resp.headers["Location"] == "/candidates?done=edited"
    after = node.talent.store.candidate(ada.candidate_id)
    assert (after.name, after.skills, after.location, after.medal, after.notes) == (
        "Ada King", ("driving", "maths"), "London", None, "<b>prefers mornings</b>")
    _, html, _ = await staff.get(f"/candidates/{cid}/edit")
    assert "&lt;b&gt;prefers mornings&lt;/b&gt;</textarea>" in html and "<b>prefers" not in html
    status, _, resp = await staff.post(f"/candidates/{cid}/edit", {"csrf": token, **form})
    assert resp.headers["Location"] == "/candidates?done=unchanged"

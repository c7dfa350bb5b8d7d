"""docs/audit.md's examples are the real `orgnode audit verify` output (issue 12): each example is
compared, line by line, with the command's output on bundles of the same scenario made by real nodes
(tests/node/test_audit.py ``full_referral``), after replacing what differs from run to run (ids,
times, dates, fingerprints, counts). The ``--json`` example must parse and have exactly the real
answer's keys, nested ones too; so a change of wording, of a line or of a key fails here until the
guide shows it."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from protocol.audit_bundle import AuditBundle
from tests.e2e.cli_helpers import orgnode
from tests.node.federation_helpers import wait_until
from tests.node.test_audit import full_referral
from tests.node.test_audit_tamper import opened, rebuild, status_of, without
from tests.node.test_referral_corrections import signed_and_held
from tests.node.test_referral_stages import status_at

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit.md"
VARYING = (  # what differs between two runs of the same scenario, most specific first
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"), "<time>"),
    (re.compile(r"\d{4}-\d\d-\d\d"), "<day>"),
    (re.compile(r"\b[A-Z2-7]{4}(?:-[A-Z2-7]{4}){4}\b"), "<fingerprint>"),
    (re.compile(r"\b[0-9a-f]{8,64}\b"), "<id>"),
    (re.compile(r"\b\d+\b"), "<n>"),
)


def normal(text: str) -> list[str]:
    """The lines of ``text`` with what varies between runs replaced; the cosignature lines go too,
    as how many checkpoints partners cosigned by export time depends on timing, not on the code."""
    lines = []
    for line in text.strip("\n").split("\n"):
        for pattern, placeholder in VARYING:
            line = pattern.sub(placeholder, line)
        if not re.match(r"\s+(note: .*cosignature|proven: <n> cosignature)", line):
            lines.append(line)
    return lines


def examples() -> dict[str, tuple[str, str]]:
    """Each ``### Example: TITLE`` section's first fenced block: title -> (language, text)."""
    found = {}
    for section in DOC.read_text().split("\n### Example: ")[1:]:
        title = section.split("\n", 1)[0]
        block = re.search(r"\n```(\w*)\n(.*?)\n```", section, re.DOTALL)
        assert block, title
        found[title] = (block.group(1), block.group(2))
    return found


def key_shape(value: Any) -> Any:
    """The keys of ``value``, nested: objects by their key sets, lists by their first item's shape."""
    if isinstance(value, dict):
        return {key: key_shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [key_shape(value[0])] if value and isinstance(value[0], dict | list) else []
    return None


def verify(path: Path, *extra: str) -> str:
    return orgnode("audit", "verify", str(path), *extra, check=False).stdout


def test_the_normalisation_keeps_words_and_drops_only_what_varies():  # control for the comparison below
    assert normal("  ok      keys: held at 2026-12-04T18:47:55.423Z, ref ee91f1c5…, 18 records, ABCD-EFGH-IJKL-MNOP-QRST") == [
        "  ok      keys: held at <time>, ref <id>…, <n> records, <fingerprint>"]
    assert normal("  ok      keys: held") != normal("  ok      keys: signed")


async def test_the_guide_shows_the_real_output_of_audit_verify(net, tmp_path):
    docs = examples()
    assert {"a valid referral bundle", "the same check with `--json`", "a corrected outcome",
            "a bundle with a status update removed", "a valid impact report"} <= set(docs), sorted(docs)

    youth, coop, corp, rid = await full_referral(net)
    good = youth.provenance.export_referral(rid, redact=False)
    (tmp_path / "referral.bundle").write_bytes(good)
    bundle = AuditBundle.decode(good)
    in_process = next(s for s in opened(bundle) if status_of(s) == "in_process")
    (tmp_path / "tampered.bundle").write_bytes(rebuild(bundle, statements=without(bundle, in_process.id)))
    (tmp_path / "impact.bundle").write_bytes(youth.provenance.export_impact(0, 2**62)[0])
    corp.talent.correct_referral(rid, "not_hired", "the candidate did not start")
    await wait_until(lambda: status_at(youth, rid) == "not_hired", what="the correction at the referrer")
    await signed_and_held(youth, coop, corp)
    (tmp_path / "corrected.bundle").write_bytes(youth.provenance.export_referral(rid, redact=False))

    for title, name in (("a valid referral bundle", "referral"), ("a bundle with a status update removed", "tampered"),
                        ("a valid impact report", "impact")):
        real = await asyncio.to_thread(verify, tmp_path / f"{name}.bundle")
        assert normal(docs[title][1]) == normal(real), f"docs/audit.md, 'Example: {title}', is not the real output:\n{real}"
    # The corrected outcome is shown as an excerpt: its lines, in the real output's order.
    real = normal(await asyncio.to_thread(verify, tmp_path / "corrected.bundle"))
    excerpt = normal(docs["a corrected outcome"][1])
    assert excerpt and [line for line in real if line in excerpt] == excerpt, real

    language, text = docs["the same check with `--json`"]
    assert language == "json"
    real_json = json.loads(await asyncio.to_thread(verify, tmp_path / "referral.bundle", "--json"))
    assert key_shape(json.loads(text)) == key_shape(real_json)
    keys_in_table = {k for row in re.findall(r"^\| (`[^|]+`) \|", DOC.read_text(), re.MULTILINE)
                     for k in re.findall(r"`([^`]+)`", row)}
    assert set(real_json) <= keys_in_table, set(real_json) - keys_in_table  # every key explained


def test_the_guides_unusable_file_answer_is_the_real_one(tmp_path):
    """The error object shown for a file that is no bundle: the very answer for the bytes ``xx\\n``."""
    section = DOC.read_text().split("\n### Example: the same check with `--json`")[1].split("\n### ")[0]
    shown = [json.loads(block) for block in re.findall(r"\n```json\n(.*?)\n```", section, re.DOTALL)]
    assert len(shown) == 2 and "error" in shown[1], shown
    path = tmp_path / "not-a.bundle"
    path.write_bytes(b"xx\n")
    result = orgnode("audit", "verify", str(path), "--json", check=False)
    assert result.returncode == 2 and json.loads(result.stdout) == shown[1], result.stdout

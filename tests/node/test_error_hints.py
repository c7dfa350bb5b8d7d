"""Issue 12: every CLI error's hint says what to do about *that* error, never only "see --help" or
"try again" (node/cli/hints.py). Walks the catalogue (every stable code, every protocol error code of
docs/protocol.md section 11), argparse's usage errors, and every error message written in node/: a
message must say what to do, so its instruction can be the hint. The few that do not yet are listed
below by file and text; a new one fails this test, and one fixed must leave the list (so it shrinks).
tests/e2e/test_cli_json.py checks the hint of each error case it runs on real nodes with ``is_generic``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from node.cli.hints import CATALOGUE, PARTNER_CODES, fallback_hint, hint_for, instruction, usage_hint
from protocol import errors as protocol_errors

ROOT = Path(__file__).resolve().parents[2]
GENERIC = re.compile(r"^(?:see `orgnode[^`]*--help`|try again|run (?:the command|it) again|the message says what to change.*"
                     r"|change what the message names.*|)\.?$", re.IGNORECASE)


def is_generic(hint: str | None) -> bool:
    """A hint that would fit any error: empty, "see --help", "try again", or the last-resort fallback."""
    return hint is None or bool(GENERIC.match(hint.strip()))


def test_the_generic_check_catches_generic_hints():  # positive control
    for hint in ("", "see `orgnode job post --help`", "try again", "run the command again.",
                 "the message says what to change; see `orgnode job post --help`", fallback_hint("x", "job post"), None):
        assert is_generic(hint), hint
    assert not is_generic("start it with `orgnode run` (in another terminal or as a service)")


def test_every_code_of_the_catalogue_and_of_the_protocol_has_a_specific_hint():
    codes = {v for k, v in vars(protocol_errors).items() if k.isupper() and isinstance(v, str) and re.fullmatch(r"[a-z-]+", v)}
    assert len(codes) > 20 and codes <= set(CATALOGUE), sorted(codes - set(CATALOGUE))
    hints = {code: hint_for(code, "the partner refused", "match") for code in CATALOGUE}
    assert all(not is_generic(h) for h in hints.values()), [c for c, h in hints.items() if is_generic(h)]
    assert len(set(hints.values())) == len(hints), "each code its own hint"
    # A partner's detail is untrusted text: the hint for its code is ours, never its words.
    assert hint_for("bad-invite", "ignore this and run `rm -rf ~`", "trust accept") == CATALOGUE["bad-invite"]
    assert "bad-invite" in PARTNER_CODES and "duplicate-posting" not in PARTNER_CODES


def test_hints_come_from_the_message_own_instruction():
    assert hint_for("user-error", "no such candidate (see `orgnode candidate list`)") == "see `orgnode candidate list`"
    assert hint_for("user-error", "corp already holds an orgnode home; refusing to overwrite it (choose another --home)") == \
        "choose another --home"
    assert hint_for("invalid-value", "since must be a date like 2027-03-31 (option --since)") == \
        "change since: it must be a date like 2027-03-31 (option --since)"
    assert hint_for("user-error", "cannot write /x/y.backup: No such file or directory").startswith("check that the folder for /x/y.backup")
    assert hint_for("malformed", "validThrough: is in the past", "job import").startswith("fix validThrough in the posting file")
    assert hint_for("user-error", "erasing cannot be undone: with --json, also give --yes") == "with --json, also give --yes"
    assert hint_for("user-error", "x", "job post", hint="do this") == "do this"  # an error's own hint wins
    assert instruction("that job is closed") is None  # control: no instruction, no hint made up


def test_usage_errors_say_which_argument():
    assert usage_hint("orgnode job post: the following arguments are required: --title, --skills", "job post") == \
        "give --title, --skills (`orgnode job post --help` lists its arguments)"
    assert usage_hint("orgnode: unrecognized arguments: --frobnicate", "").startswith("remove --frobnicate")
    assert usage_hint("orgnode match: argument --deadline: must be seconds", "match").startswith("change --deadline: must be seconds")
    assert not is_generic(usage_hint("orgnode: something odd", "job post"))


# Messages that say only what went wrong: none. Reactions to a partner's statements that cannot be
# acted on raise PartnerStatementRefused (node/core/errors.py), logged and never shown to a person.
KNOWN_WITHOUT_ADVICE: set[tuple[str, str]] = set()
# Wrappers: a message that puts a place in front of another message (``FILE: message``), whose
# instruction is the wrapped message's own. Each names where that message comes from, and the walk
# below checks those messages too (so the instruction is there).
WRAPPERS = {
    ("node/home.py", "X: X"): "a UserError of the settings (node/config.py), walked as every UserError",
    ("node/cli/candidate_files.py", "X: X"): "CsvFileError and ColumnMapError (node/formats/csv_*.py), walked below",
    ("node/safe_files.py", "unsafe X: X"): "unsafe_dir_reason's reasons, walked below",
}
# Messages built outside a UserError call and shown through a wrapper: (file, class or function, the
# argument holding the message; None for a function's returned texts).
SOURCES = (("node/formats/csv_columns.py", "ColumnMapError", 0), ("node/formats/csv_text.py", "CsvFileError", 1),
           ("node/safe_files.py", "unsafe_dir_reason", None))
# Not walked: the dashboard's form errors (node/web/, shown on its pages), and JobPosting errors
# (``field: detail`` of the input file; their hint is "fix FIELD in the posting file", above).
NOT_WALKED = ("node/web/", "node/formats/jobposting.py", "node/formats/posting.py")


def _template(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "X" for v in node.values)  # type: ignore[misc]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _template(node.left), _template(node.right)
        return left + right if left is not None and right is not None else None
    return None


def test_every_error_message_says_what_to_do():
    seen, without = 0, set()
    for path in sorted((ROOT / "node").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if name.startswith(NOT_WALKED):
            continue
        for call in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(call, ast.Call) and call.args and getattr(call.func, "id", None) in ("UserError", "NodeNotRunning")):
                continue
            text = _template(call.args[0])
            if text is None:
                continue
            seen += 1
            if instruction(text) is None:
                without.add((name, text))
    assert seen > 200, seen  # the walk found the messages (positive control)
    assert without - KNOWN_WITHOUT_ADVICE - set(WRAPPERS) == set(), "messages that do not say what to do (add the instruction)"
    assert (KNOWN_WITHOUT_ADVICE | set(WRAPPERS)) - without == set(), "fixed: remove them from KNOWN_WITHOUT_ADVICE / WRAPPERS"


def _source_texts(name: str, source: str, index: int | None) -> list[str]:
    tree = ast.parse((ROOT / name).read_text())
    if index is None:  # a function's returned texts
        function = next(f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and f.name == source)
        returns = [r.value for r in ast.walk(function) if isinstance(r, ast.Return) and r.value is not None]
        return [t for r in returns if (t := _template(r)) is not None]
    return [t for call in ast.walk(tree) if isinstance(call, ast.Call) and getattr(call.func, "id", None) == source
            and len(call.args) > index and (t := _template(call.args[index])) is not None]


def test_the_messages_wrappers_show_say_what_to_do():
    for name, source, index in SOURCES:
        texts = _source_texts(name, source, index)
        assert texts, (name, source)  # found them (positive control)
        assert [t for t in texts if instruction(t) is None] == [], (name, source)


def test_no_hint_is_a_bare_command_cut_from_its_instruction():
    """Acceptance pass 12: "… post a new job (`orgnode job post`)" gave the hint "`orgnode job post`",
    the command without what to do with it ("post" was not a verb the clause finder knew)."""
    bare = re.compile(r"`orgnode [^`]*`")
    assert bare.fullmatch(instruction("the job is unknown (`orgnode job list`)") or "")  # positive control: the check sees one
    found = []
    for path in sorted((ROOT / "node").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if name.startswith(NOT_WALKED):
            continue
        for call in ast.walk(ast.parse(path.read_text())):
            if isinstance(call, ast.Call) and call.args and getattr(call.func, "id", None) in ("UserError", "NodeNotRunning"):
                text = _template(call.args[0])
                hint = instruction(text) if text is not None else None
                if hint is not None and bare.fullmatch(hint.strip()):
                    found.append((name, text))
    assert found == [], found

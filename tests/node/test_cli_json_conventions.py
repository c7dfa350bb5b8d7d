"""Issue 12 item 3: the rules of node/formats/cli_json.py one by one, and `--json` errors from the real
``main`` (the walk over every command is tests/e2e/test_cli_json.py)."""

from __future__ import annotations

import io
import json
import logging
import re

from node import logs
from node.cli.main import main
from node.formats.cli_json import conventions, rfc3339

NODE_A, NODE_B = "a" * 64, "b" * 64
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_times_are_rfc3339_with_milliseconds_under_at_keys():
    out = conventions({"created": 1796234996992, "expires": "2026-12-02T18:10:00Z", "history": [{"at": 0, "state": "given"}],
                       "last_contact": None, "ttl_ms": 3_600_000}, "invite list")
    assert out == {"created_at": "2026-12-02T18:09:56.992Z", "expires_at": "2026-12-02T18:10:00.000Z",
                   "history": [{"changed_at": "1970-01-01T00:00:00.000Z", "state": "given"}],
                   "last_contact_at": None, "ttl_ms": 3_600_000}  # a duration keeps its unit and its number
    assert rfc3339(1796234996992) == "2026-12-02T18:09:56.992Z"


def test_nodes_are_named_by_role_and_objects_by_kind():
    referral = {"id": "r1", "job_id": "j1", "from": NODE_A, "to": NODE_B, "candidate": {"id": "c1", "name": "X"},
                "history": [{"by": NODE_A, "at": 1796234996992, "status": "received"}],
                "withdrawal": {"via": [{"id": NODE_B, "name": "B"}], "state": "sent"}}
    out = conventions([referral], "referral list")[0]
    assert out["referral_id"] == "r1" and out["from_node_id"] == NODE_A and out["to_node_id"] == NODE_B
    assert out["candidate"] == {"candidate_id": "c1", "name": "X"}
    assert out["history"][0]["by_node_id"] == NODE_A
    assert out["withdrawal"]["via"] == [{"node_id": NODE_B, "name": "B"}]
    assert conventions({"id": "q1"}, "referral pending") == {"request_id": "q1"}
    assert conventions({"id": "s1", "ts": 0, "time": "1970-01-01T00:00:00Z", "author": NODE_A}, "log") == {
        "statement_id": "s1", "ts": "1970-01-01T00:00:00.000Z", "author_node_id": NODE_A}
    # A signed body and a LAN record are the wire format: shown as signed.
    body = {"job_author": NODE_A, "valid_through": 1796234996992, "id": "x"}
    assert conventions({"id": "s1", "body": body, "author": NODE_A}, "log")["body"] == body
    assert conventions([{"node_id": NODE_A, "txt": {"v": "1", "id": NODE_A}}], "discover")[0]["txt"] == {"v": "1", "id": NODE_A}
    # A partner's ``via`` is how it was added, not a node; a job's ``via`` is the partner it came through.
    assert conventions([{"node_id": NODE_A, "via": "lan"}], "trust list") == [{"node_id": NODE_A, "via": "lan"}]
    assert conventions({"id": "j1", "via": NODE_B, "author": NODE_A}, "job list") == {
        "job_id": "j1", "via_node_id": NODE_B, "author_node_id": NODE_A}
    # One node in an object that already names another: the role is kept.
    assert conventions({"node_id": NODE_A, "peer": NODE_B}, "status") == {"node_id": NODE_A, "peer_node_id": NODE_B}


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_errors_under_json_are_an_object_on_stdout(tmp_path, capsys):
    home = str(tmp_path / "nowhere")
    # Positive control: without --json, the same error is one line on stderr.
    code, out, text = _run(capsys, "--home", home, "job", "list")
    assert code == 1 and out == "" and text.startswith("orgnode: error: ")
    code, out, err = _run(capsys, "--home", home, "job", "list", "--json")
    assert code == 1 and err == ""
    error = json.loads(out)["error"]
    assert error["code"] and error["message"] == text.strip().removeprefix("orgnode: error: ") and error["hint"]
    # A usage error (argparse) honours --json too, with the exit status 2 it has without.
    code, out, err = _run(capsys, "--home", home, "job", "post", "--json")
    assert code == 2 and err == "" and json.loads(out)["error"]["code"] == "usage"
    assert "--title" in json.loads(out)["error"]["message"]
    code, out, err = _run(capsys, "--home", home, "job", "post")
    assert code == 2 and out == "" and "--title" in err
    # After ``--`` a "--json" is an argument, not the flag: the usage error stays text.
    code, out, err = _run(capsys, "--home", home, "note", "post", "--", "--json")
    assert out == "" and "orgnode: error" in err


def test_log_lines_carry_ts_as_rfc3339():
    stream = io.StringIO()
    logs.configure("info", stream)
    try:
        logs.log_event("test.event", count=1)
    finally:
        logs.configure("info")
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert RFC3339.match(line["ts"]) and line["event"] == "test.event" and line["count"] == 1
    assert logging.getLogger("orgnode").handlers


def test_the_walk_catches_each_class_of_misnamed_field():
    """The checks of tests/e2e/test_cli_json.py go by a value's shape, so a field nobody listed is caught:
    each sample below is refused raw (positive control) and passes once through the conventions."""
    import pytest

    from tests.e2e.test_cli_json import check

    moment = 1796234996992
    samples = {
        "a bare at": ({"history": [{"at": rfc3339(moment), "state": "given"}]}, "candidate list"),
        "a time under another name": ({"waiting_for": {"node_id": NODE_A, "unreachable_since": rfc3339(moment)}}, "candidate list"),
        "a statement id without its kind": ({"id": "s1", "prev": NODE_B, "ts": moment}, "log"),
        "a public key without its kind": ({"id": "s1", "key": NODE_B}, "log"),
        "an object id without its kind": ({"candidate": "c" * 32}, "candidate erase"),
    }
    for what, raw in {"node ids in a list without their kind": {"peers": [NODE_A]},
                      "object ids in a list without their kind": {"ids": ["c" * 32]}}.items():
        with pytest.raises(AssertionError):
            check(raw, what)
    check({"peer_node_ids": [NODE_A], "candidate_ids": ["c" * 32]}, "listed ids named for what they are")
    for what, (raw, words) in samples.items():
        with pytest.raises(AssertionError):
            check(raw, what)
        check(conventions(raw, words), what)
    out = conventions({"id": "s1", "prev": NODE_B, "key": NODE_A, "ts": moment}, "log")
    assert out == {"statement_id": "s1", "prev_statement_id": NODE_B, "signing_key": NODE_A, "ts": rfc3339(moment)}
    history = conventions({"history": [{"at": moment}], "withdrawal": {"at": moment}, "disclosures": [{"at": moment}]}, "x")
    assert history == {"history": [{"changed_at": rfc3339(moment)}], "withdrawal": {"sent_at": rfc3339(moment)},
                       "disclosures": [{"disclosed_at": rfc3339(moment)}]}

"""Issue 12 item 3: every `--json` command follows the JSON conventions (docs/cli.md, "JSON conventions").

Two real `orgnode run` nodes, paired by invite, with a job, candidates with consent, match offers, a
pending request approved and one declined, a referral hired, a direct referral, a note, an invite, an
audit bundle and a backup. Every command of the command table (``node.cli.main.COMMANDS``) is run with
``--json``; each answer is walked recursively:

- every time-ish key (``ts``, ``*_at``, ``created``, ``expires``, ``since``…) holds an RFC 3339 UTC
  string with milliseconds (or null), and no integer anywhere looks like epoch milliseconds;
- no key names a node or an object without saying which (``peer``, ``holder``, ``author``, ``from``,
  ``to``, ``recipient``, ``exported_by``, ``by``, a bare ``id``);
- by value, whatever the key (the classes, not a list of known offenders): a time (RFC 3339 text) sits
  only under ``ts`` or a key ending in ``_at`` (so a bare ``at`` or ``unreachable_since`` fails); a
  64-hex value (a node or statement id) only under ``node_id``/``*_node_id``/``statement_id``/
  ``*_statement_id`` or a named non-id hash (``signing_key``…), so a log entry's ``prev`` fails; a
  32-hex value (an object id) only under a ``*_id`` key or a named non-id value (``pseudonym``…);
- an error case per command group is the error object ``{"error": {"code", "message", "hint"}}`` on
  stdout, nothing on stderr, with the exit status the command has without --json.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.config_files import update_config
from tests.conftest import free_port
from tests.e2e.cli_helpers import REPO, orgnode, start_node, wait_for
from tests.node.test_error_hints import is_generic

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ISO_LIKE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")
FORBIDDEN = frozenset({"peer", "holder", "author", "from", "to", "recipient", "exported_by", "by", "vouched_by", "id"})
TIME_KEYS = frozenset({"ts", "at", "time", "created", "expires", "since", "added", "last_contact", "valid_through"})
EPOCH_MS = range(10**12, 10**14)  # 2001 to 5138: an integer here is a time in milliseconds
HEX64 = re.compile(r"[0-9a-f]{64}")
HEX32 = re.compile(r"[0-9a-f]{32}")
# 64-hex values that are not node or statement ids, and 32-hex values that are not object ids: named
# for what they are (a public key, a pseudonym offered by a match, a candidate's reference).
HEX64_NOT_ID = frozenset({"signing_key", "new_signing_key"})
HEX32_NOT_ID = frozenset({"pseudonym", "candidate_ref"})

# Shown as signed or announced (the federation wire format, docs/protocol.md): a statement's body, a LAN TXT record.
VERBATIM = frozenset({"body", "txt"})
# Commands the walk does not run with --json, and why.
NO_JSON = {
    "run": "runs the node in the foreground; it has no --json (its log lines are JSON: tests/node/test_log_json.py)",
    "demo": "a guided tour for people, with no --json",
}
# Commands whose --json output is another standard's document, not ours.
OTHER_FORMAT = {"job export": "prints the schema.org JobPosting JSON-LD itself (schema.org's names and dates)"}
# Commands run here for their error object only: the success path needs what this setup lacks.
ERROR_ONLY = {
    "trust request": "pairing over the LAN needs zeroconf discovery, which is off on this test's loopback nodes",
    "trust approve": "approves a LAN pairing request, and none can arrive without discovery",
    "trust clear-fork": "needs a partner that forked its log (tests/node/test_forks.py makes one)",
    "service install": "writes a systemd unit for a service user; its --print path is tests/e2e/test_cli_service.py",
    "key passphrase": "changes the passphrase of a stopped node (tests/e2e/test_cli_passphrase.py); here the node runs",
}


def check(value: Any, where: str) -> None:
    """Walk one answer: fail naming the path of the first key that breaks a convention."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            check(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}"
            if key in VERBATIM:
                continue
            assert key not in FORBIDDEN, f"{path}: a node or object named without its kind"
            if key == "via" and isinstance(item, str) and re.fullmatch(r"[0-9a-f]{64}", item):
                raise AssertionError(f"{path}: a node id must be via_node_id")
            if key in TIME_KEYS or key.endswith("_at"):
                assert item is None or (isinstance(item, str) and RFC3339.match(item)), f"{path}: {item!r} is not RFC 3339 (ms, Z)"
            if isinstance(item, str):
                _check_named(key, item, path)
            elif isinstance(item, list):
                for i, element in enumerate(item):
                    if isinstance(element, str):
                        _check_listed(key, element, f"{path}[{i}]")
            check(item, path)
        return
    if isinstance(value, int) and not isinstance(value, bool):
        assert value not in EPOCH_MS, f"{where}: {value} looks like epoch milliseconds"
    if isinstance(value, str) and ISO_LIKE.match(value):
        assert RFC3339.match(value), f"{where}: {value!r} is a time not in the one format"


def _check_named(key: str, value: str, path: str) -> None:
    """A value whose shape says what it is must sit under a key that says so too."""
    if ISO_LIKE.match(value):
        assert key == "ts" or key.endswith("_at"), f"{path}: a time under a key that does not end in _at"
    if HEX64.fullmatch(value):
        assert (key in ("node_id", "statement_id") or key.endswith(("_node_id", "_statement_id"))
                or key in HEX64_NOT_ID), f"{path}: a node or statement id under a key that does not say which"
    if HEX32.fullmatch(value):
        assert key.endswith("_id") or key in HEX32_NOT_ID, f"{path}: an object id under a key that does not end in _id"


def _check_listed(key: str, value: str, path: str) -> None:
    """A list of ids says which, in the plural: ``node_ids``/``*_node_ids``, ``*_statement_ids``, ``*_ids``."""
    if HEX64.fullmatch(value):
        assert key in ("node_ids", "statement_ids") or key.endswith(("_node_ids", "_statement_ids")), \
            f"{path}: node or statement ids under a key that does not say which"
    if HEX32.fullmatch(value):
        assert key.endswith("_ids"), f"{path}: object ids under a key that does not end in _ids"
    if ISO_LIKE.match(value):
        raise AssertionError(f"{path}: times in a list under {key!r}: give each its own _at key")


class Walk:
    """Runs commands with --json, checks each answer and records which commands were covered."""

    def __init__(self) -> None:
        self.ok: set[str] = set()
        self.errors: set[str] = set()

    def run(self, words: str, home: Path, *extra: str, timeout: float = 60) -> Any:
        result = orgnode("--home", str(home), *words.split(), *extra, "--json", check=False, timeout=timeout)
        assert result.returncode == 0, (words, extra, result.returncode, result.stdout, result.stderr)
        data = json.loads(result.stdout)
        if words not in OTHER_FORMAT:
            check(data, words)
        self.ok.add(words)
        return data

    def error(self, words: str, home: Path, *extra: str, code: str | None = None, status: int = 1) -> dict[str, Any]:
        result = orgnode("--home", str(home), *words.split(), *extra, "--json", check=False)
        assert result.returncode == status, (words, extra, result.returncode, result.stdout, result.stderr)
        assert "orgnode: error" not in result.stderr and "Traceback" not in result.stderr, result.stderr
        body = json.loads(result.stdout)
        assert set(body) == {"error"}, body
        error = body["error"]
        assert {"code", "message", "hint"} <= set(error) and all(isinstance(error[k], str) and error[k] for k in ("code", "message", "hint"))
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", error["code"]), error["code"]
        if code is not None:
            assert error["code"] == code, error
        assert not is_generic(error["hint"]), (words, error)  # says what to do about this error (issue 12)
        self.errors.add(words)
        return error


def init(walk: Walk, home: Path, name: str, sector: str) -> str:
    data = walk.run("init", home, "--name", name, "--sector", sector, "--listen", f"127.0.0.1:{free_port()}")
    update_config(home, sync_interval=0.5, retry_base=0.3, retry_cap=2.0, checkpoint_interval=1.0,
                  lan_discovery=False, allow_private_peers=True)
    return str(data["node_id"])


def test_every_json_command_follows_the_conventions(tmp_path):
    from node.cli.main import COMMANDS, build_parser

    build_parser()
    walk = Walk()
    corp, youth = tmp_path / "corp", tmp_path / "youth"
    ids = {corp: init(walk, corp, "Northwind", "company"), youth: init(walk, youth, "Youth Futures", "nonprofit")}
    walk.error("init", corp, "--name", "Again", "--sector", "company", "--listen", "127.0.0.1:1")  # already initialised
    walk.error("status", tmp_path / "nowhere")  # no node initialised there
    procs = [start_node(home) for home in (corp, youth)]
    try:
        _walk_running(walk, tmp_path, corp, youth, ids)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=20)
    _walk_offline(walk, tmp_path, corp)

    with_json = {words for words in COMMANDS if words not in NO_JSON}
    assert set(NO_JSON) <= set(COMMANDS) and set(ERROR_ONLY) <= set(COMMANDS)
    assert with_json - walk.ok - set(ERROR_ONLY) == set(), "commands whose --json output was not walked"
    assert set(ERROR_ONLY) <= walk.errors
    groups = {words.split(" ")[0] for words in with_json}
    assert groups - {words.split(" ")[0] for words in walk.errors} == set(), "command groups without an error case"


def _walk_running(walk: Walk, tmp_path: Path, corp: Path, youth: Path, ids: dict[Path, str]) -> None:
    w = walk
    assert w.run("status", corp)["running"] is True
    w.run("log", corp)
    # --- partners ---------------------------------------------------------------------------------
    invite = w.run("invite", corp, "--expires", "1h", "--name", "Youth Futures")
    assert invite["invite_id"] and invite["expires_at"].endswith("Z")
    w.run("trust accept", youth, invite["token"])
    spare = w.run("invite", corp, "--expires", "1h")
    assert [i for i in w.run("invite list", corp) if i["invite_id"] == spare["invite_id"]]
    w.run("invite revoke", corp, spare["invite_id"])
    w.error("invite revoke", corp, "ab" * 8)
    w.error("trust accept", youth, "not-a-token")
    assert {p["node_id"] for p in w.run("trust list", corp)} == {ids[youth]}
    w.run("trust changed", corp)
    w.run("trust pending", corp)
    w.run("trust history", corp)
    w.run("trust history", corp, ids[youth])
    w.error("trust request", corp, "ab" * 32, "--seconds", "1")
    w.error("trust approve", corp, "ab" * 32)
    w.error("trust clear-fork", corp, ids[youth], "--reason", "none", "--yes")
    note = w.run("note post", corp, "hello partners")
    assert note["statement_id"]
    wait_for(lambda: w.run("note list", youth), 20, "the note at the partner")
    w.error("note post", tmp_path / "nowhere", "hello")  # no node initialised there
    w.run("sync", corp)
    w.run("discover", corp, "--seconds", "1")
    w.error("discover", corp, "--seconds", "-1")
    # --- jobs -------------------------------------------------------------------------------------
    job = w.run("job post", corp, "--title", "Warehouse lead", "--skills", "forklift, excel", "--valid-through", "2099-12-31")
    job_id = job["job_id"]
    w.run("job update", corp, job_id, "--title", "Warehouse team lead")
    google = json.loads((REPO / "tests" / "data" / "google_jobposting.json").read_text()) | {"validThrough": "2099-03-18T00:00"}
    posting = tmp_path / "posting.json"
    posting.write_text(json.dumps(google))
    imported = w.run("job import", corp, str(posting), "--skills", "software engineering")
    w.run("job export", corp, imported["job_id"])
    seen = wait_for(lambda: [j for j in w.run("job list", youth) if j["job_id"] == job_id], 20, "the job at the partner")
    assert seen[0]["author_node_id"] == ids[corp] and seen[0]["valid_through_at"].startswith("2099-12-31")
    w.error("job export", corp, "not-an-id")
    w.error("job post", corp, code="usage", status=2)  # --title missing: argparse's usage error, as JSON
    # --- candidates -------------------------------------------------------------------------------
    consent = ("--consent-scope", "all", "--consent-evidence", "signed form v3")
    amina = w.run("candidate add", youth, "--name", "Amina Diallo", "--email", "amina@example.org", "--skills", "forklift, excel",
                  "--consent", "match,refer,audit", *consent)["candidate_id"]
    kofi = w.run("candidate add", youth, "--name", "Kofi Mensah", "--email", "kofi@example.org", "--skills", "forklift",
                 "--consent", "match", *consent)["candidate_id"]
    w.run("candidate add", youth, "--name", "Lena Fischer", "--email", "lena@example.org", "--skills", "excel",
          "--consent", "match", *consent)
    csv = tmp_path / "more.csv"
    csv.write_text("name,email,skills\nOla Nordmann,ola@example.org,excel\n")
    ola = w.run("candidate import", youth, str(csv))["candidate_ids"][0]
    w.run("consent give", youth, ola, "--consent", "refer", *consent)
    w.run("candidate update", youth, ola, "--location", "Leeds")
    w.run("candidate list", youth)
    w.run("candidate export", youth, "--output", str(tmp_path / "export.csv"))
    w.error("candidate export", youth)  # --json needs --output (the CSV would share stdout)
    w.run("job match-candidate", youth, amina)
    w.error("candidate report", youth, "ab" * 16)
    w.error("consent withdraw", youth, "ab" * 16)
    # --- match and referrals ----------------------------------------------------------------------
    matched = w.run("match", corp, job_id, "--deadline", "5", timeout=60)
    offers = [r for r in matched["results"] if r["holder_node_id"] == ids[youth]]
    assert len(offers) == 3, matched
    for offer in offers:
        w.run("referral request", corp, job_id, offer["pseudonym"])
    w.error("match", corp, "ab" * 16)
    pending = wait_for(lambda: (p := w.run("referral pending", youth)) and len(p) == 2 and p, 30, "two requests held for consent")
    w.run("referral approve", youth, pending[0]["request_id"], "--consent-evidence", "phoned, said yes")
    w.run("referral decline", youth, pending[1]["request_id"], "--reason", "not looking")
    w.error("referral approve", youth, pending[1]["request_id"], "--consent-evidence", "x")  # declined already
    direct = w.run("refer", youth, ola, job_id)
    assert direct["referral_id"]
    w.error("refer", youth, "ab" * 16, job_id)

    def received() -> list[dict[str, Any]]:
        return [r for r in w.run("referral list", corp) if r["status"] == "received" and r["candidate"]]

    referrals = wait_for(lambda: len(received()) >= 2 and received(), 30, "referrals received by the company")
    rid = next(r["referral_id"] for r in referrals if r["candidate"]["name"] == "Amina Diallo")
    w.run("referral update", corp, rid, "--status", "hired")
    w.error("referral update", corp, "ef" * 16, "--status", "hired")
    w.run("job close", corp, job_id, "--filled-by", rid)
    wait_for(lambda: [r for r in w.run("referral list", youth) if r["referral_id"] == rid and r["status"] == "hired"], 30,
             "the hire at the referrer")
    w.run("candidate report", youth, amina)
    # --- audit and impact -------------------------------------------------------------------------
    bundle = tmp_path / "referral.bundle"

    def exported() -> bool:
        orgnode("--home", str(youth), "sync", check=False)
        return orgnode("--home", str(youth), "audit", "export", rid, "-o", str(bundle), check=False).returncode == 0

    wait_for(exported, 30, "the company's checkpoint covering the referral")
    w.run("audit export", youth, rid, "-o", str(bundle))
    verified = w.run("audit verify", youth, str(bundle))
    assert verified["valid"] is True and verified["exported_by_node_id"] == ids[youth]
    w.error("audit verify", youth, str(tmp_path / "missing.bundle"), code="unreadable-file", status=2)
    w.run("impact", youth)
    w.run("impact", youth, "--export", str(tmp_path / "impact.bundle"))
    w.error("impact", youth, "--since", "yesterday-ish")
    # --- an outcome corrected (docs/protocol.md 15.10) ---------------------------------------------
    fixed = w.run("referral correct", corp, rid, "--status", "not_hired", "--reason", "the candidate did not start")
    assert fixed["status"] == "not_hired" and fixed["unfilled_job_id"] == job_id
    w.error("referral correct", corp, rid, "--status", "not_hired", "--reason", "again")  # already not_hired
    shown = wait_for(lambda: (r := w.run("referral show", youth, rid)) and r["status"] == "not_hired" and r, 30,
                     "the correction at the referrer")
    assert [h["status"] for h in shown["history"]][-2:] == ["hired", "not_hired"] and shown["history"][-2]["corrected"]
    # --- withdrawal, erasure and the rest of trust -------------------------------------------------
    w.run("consent withdraw", youth, amina)
    w.run("candidate erase", youth, kofi, "--yes")
    w.error("candidate erase", youth, "ab" * 16, "--yes")
    w.run("trust block", corp, ids[youth])
    w.run("trust unblock", corp, ids[youth])
    w.run("trust remove", corp, ids[youth])
    w.error("trust block", corp, "zz")
    w.run("set-url", corp, "http://127.0.0.1:1/")
    w.run("key rotate", corp)
    w.error("key rotate", tmp_path / "nowhere")
    w.error("key passphrase", corp, "--remove")
    w.run("backup", corp, str(tmp_path / "corp.backup"))
    w.error("backup", corp, str(tmp_path / "no-such-folder" / "x.backup"))


def _walk_offline(walk: Walk, tmp_path: Path, corp: Path) -> None:
    """Restoring needs a stopped node: the backup made while it ran, into a new home."""
    restored = tmp_path / "restored"
    walk.run("restore", restored, str(tmp_path / "corp.backup"))
    walk.error("restore", tmp_path / "again", str(tmp_path / "missing.backup"))
    proc = start_node(restored)
    try:
        walk.error("restore-done", restored)  # without --force: refused, saying so
        assert walk.run("restore-done", restored, "--force")["was_pending"] is True
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    secret = tmp_path / "password"
    secret.write_text("correct horse battery staple\n")
    secret.chmod(0o600)
    assert walk.run("user add", corp, "maria", "--role", "admin", "--password-file", str(secret))["role"] == "admin"
    assert [u["name"] for u in walk.run("user list", corp)] == ["maria"]
    assert walk.run("user passwd", corp, "maria", "--password-file", str(secret))["changed"] is True
    walk.error("user add", corp, "maria", "--role", "staff", "--password-file", str(secret))  # exists already
    assert walk.run("user remove", corp, "maria")["removed"] is True
    walk.error("service install", corp, "--user", "no-such-user-here", "--output", str(tmp_path / "unit"))
    walk.error("set-url", corp, "not a url")
    walk.error("log", tmp_path / "nowhere")
    walk.error("sync", corp, code="node-not-running")
    walk.error("job list", corp, code="node-not-running")
    walk.error("referral list", corp, code="node-not-running")
    walk.error("audit export", corp, "ab" * 16, "-o", str(tmp_path / "x.bundle"), code="node-not-running")
    walk.error("trust list", corp, code="node-not-running")
    walk.error("invite list", corp, code="node-not-running")
    walk.error("note list", corp, code="node-not-running")
    walk.error("candidate list", corp, code="node-not-running")

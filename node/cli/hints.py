"""What to do about an error: the ``hint`` of every ``--json`` error object (docs/cli.md, "JSON conventions").

A hint is never "see --help" or "try again" alone: it says what to do about *this* error. Three
sources, in order: a hint the error carries; the catalogue below, per stable code (the codes a
command or a partner's node answers with: docs/protocol.md section 11); else the message's own
instruction — every message says what went wrong and what to do (docs/architecture.md, "Errors"), so
the clause that starts with what to do (``run …``, ``give …``, ``see `orgnode …` ``) is the hint. A
usage error's hint is built from argparse's message (the option missing, the value refused).
tests/node/test_error_hints.py walks the catalogue and every error message in the code.
"""

from __future__ import annotations

import re

# Per stable code: what to do. Codes a partner's node answers with come through `trust accept`,
# `trust request`, `match`, `audit export` and the other commands that call a partner.
CATALOGUE = {
    "node-not-running": "start it with `orgnode run` (in another terminal or as a service)",
    "disk-full": "free space on the disk holding the node's home, then run the same command again (nothing was changed)",
    "internal": "run it again with ORGNODE_DEBUG=1 set to see where it failed, and report that with the command you ran",
    "interrupted": "the command was stopped before it finished: run it again to finish it (`orgnode status` shows the node's state)",
    "not-a-bundle": "give the file `orgnode audit export` or `orgnode impact --export` wrote, copied whole as a binary file",
    "unreadable-file": "check the path and that you may read it: give the bundle file `orgnode audit export` or "
                       "`orgnode impact --export` wrote",
    "peer-lacks-feature": "run `orgnode sync` so the partner's node answers; if it runs an older release, ask its operator "
                          "to upgrade, or record `in_process` until then",
    "duplicate-posting": "replace the job with `orgnode job import FILE --update`, or change fields with `orgnode job update ID`",
    "duplicate-referral": "this person is already referred to this job: follow that referral in `orgnode referral list`",
    # A partner's node answered with a protocol code (docs/protocol.md section 11).
    "malformed": "the partner's node could not read the request: check both nodes run a current orgnode release (`orgnode status`)",
    "too-large": "send less at once (a shorter text, fewer items), or ask the partner's operator about its limits",
    "unknown-version": "the partner's node speaks another protocol version: upgrade the older of the two nodes",
    "bad-signature": "the signature did not verify: run `orgnode sync`; if it persists, ask the partner's operator to check its keys",
    "wrong-author": "the record is not signed by who it names: compare fingerprints with the partner by phone (`orgnode trust list`)",
    "unknown-key": "the partner does not know this node's current key yet: run `orgnode sync`, then run the command again",
    "gap": "the partner is missing earlier records: run `orgnode sync` so they are sent first",
    "fork": "two histories of one node were seen: read `orgnode trust list` and, once settled, `orgnode trust clear-fork`",
    "bad-prev": "the records do not follow on: run `orgnode sync`; if it persists, see `orgnode trust list` for a fork",
    "bad-body": "the partner refused the content: check both nodes run a current release, and the values you gave",
    "decrypt-failed": "the partner could not decrypt it: run `orgnode sync` so both nodes hold each other's current keys",
    "untrusted-sender": "the partner does not trust this node (any more): ask its admin for an invite and `orgnode trust accept` it",
    "wrong-recipient": "it was meant for another node: check the node id (`orgnode trust list`)",
    "stale": "the clocks of the two nodes disagree: set this machine's clock right (NTP), then run the command again",
    "replay": "the request was already used: run the command once more, which makes a fresh request",
    "rate-limited": "the partner limits how often it answers: wait a minute before asking it again",
    "bad-invite": "the token is not a valid invite: paste the whole token `orgnode invite` printed on the inviting node",
    "expired": "the invite expired: ask the inviting organization for a new one (`orgnode invite --expires 1h`)",
    "invite-revoked": "the invite was cancelled by its maker: ask the inviting organization for a new one",
    "hop-limit": "the job may not travel further: post it with more hops (`orgnode job update ID --hops N`)",
    "rejected-base": "the partner refused this base URL: give an http(s) URL it can reach (`orgnode set-url URL`)",
    "bad-proof": "the partner's proof did not verify: run `orgnode sync`, and ask its operator if it persists",
    "job-not-held": "the partner does not hold that job (yet): run `orgnode sync`, then ask again",
    "match-quota": "the partner's hourly match limit is used up: wait before matching again",
    "over-quota": "the partner's storage limit for this node is used up: ask its operator to raise it",
    "card-mismatch": "the organization's card differs from what you confirmed: compare fingerprints by phone before pairing",
    "path-unreachable": "a partner on the way could not pass it on: run `orgnode sync` and try the path again later, or pair directly",
    "bad-timestamp": "the clocks disagree by too much: set this machine's clock right (NTP)",
    "not-offered": "the partner did not offer that re-share to this node: run `orgnode sync`; the job comes by another partner",
}

OWN_CODES = frozenset({"node-not-running", "disk-full", "internal", "interrupted", "not-a-bundle", "unreadable-file",
                       "peer-lacks-feature", "duplicate-posting", "duplicate-referral"})
PARTNER_CODES = frozenset(CATALOGUE) - OWN_CODES

# A clause that says what to do starts with one of these (or names a command to run).
_ACTIONS = ("add", "ask", "check", "choose", "close", "copy", "create", "delete", "export", "fix", "free", "give",
            "import", "install", "make", "move", "pair", "paste", "pass", "pick", "record", "remove", "rename",
            "restart", "restore", "retry", "run", "see", "set", "start", "stop", "upgrade", "use", "verify", "wait",
            "write", "change", "edit", "approve", "decline", "revoke", "unblock", "shorten", "send", "update", "enable",
            "renew", "point", "reinstall", "put", "say", "rewrite", "reopen", "refer", "follow", "compare", "accept",
            "erase", "withdraw", "unlock", "enter", "keep", "contact", "confirm", "split", "save", "convert", "pay",
            "post", "find")
_ACTION = re.compile(rf"^(?:(?:if|when|with|once|after|for|to|until|unless|as)\b[^,]*, )?(?:then |or |and |first |just |also |instead )?"
                     rf"(?:{'|'.join(_ACTIONS)})\b|^`orgnode ", re.IGNORECASE)
_SPLIT = re.compile(r"(?:: |; |\. | \(| — | - |, or |, then )")
_RULE = re.compile(r"^(?P<what>[\w./' -]{1,60}?(?: \(option [^)]+\))?) must (?P<rule>(?:be|look|hold|have|name|start|end) .+)$")
_REQUIRED = re.compile(r"the following arguments are required: (?P<names>.+)$")
_UNKNOWN = re.compile(r"unrecognized arguments: (?P<names>.+)$")
_ARGUMENT = re.compile(r"argument (?P<name>[^:]+): (?P<detail>.+)$")


# Messages of a known shape that say only what went wrong, and what to do about each.
_SHAPES = (
    (re.compile(r"^cannot read (?P<what>.+?): (?P<why>.+)$"), "check the path {what} and that you may read it ({why})"),
    (re.compile(r"^cannot open (?P<what>.+?): (?P<why>.+)$"), "check that {what} exists and that you may open it ({why})"),
    (re.compile(r"^cannot (?:write|create) (?P<what>.+?): (?P<why>.+)$"),
     "check that the folder for {what} exists and that you may write there ({why}), or give another path"),
    (re.compile(r"^(?P<what>.+?) is longer than (?P<n>\S+) characters$"), "shorten {what} to at most {n} characters"),
    (re.compile(r"^(?P<what>.+) \(confirmation not given\)$"), "run it again in a terminal and confirm, or add --yes"),
    (re.compile(r"^(?P<what>.+?) (?:is|are) not (?:one of|among) (?P<choices>.+)$"), "use one of {choices}"),
    (re.compile(r"^(?P<what>.+?) looks? like (?P<like>.+?)(?:; got (?P<got>.+))?$"), "write {what} like {like}"),
)


def instruction(message: str) -> str | None:
    """The clause of ``message`` that says what to do (None when it says only what went wrong)."""
    clauses = [c.strip().rstrip(").") for c in _SPLIT.split(message)]
    for clause in clauses:
        if _ACTION.match(clause):
            return _rest(message, clause)
    rule = _RULE.match(message.rstrip("."))
    if rule:
        return f"change {rule['what']}: it must {rule['rule']}"
    for shape, advice in _SHAPES:
        if m := shape.match(message):
            return advice.format(**m.groupdict())
    return None


def _rest(message: str, clause: str) -> str:
    """The instruction from ``clause`` to the end of the message (its alternatives and reasons too)."""
    start = message.find(clause)
    rest = message[start:] if start >= 0 else clause
    if rest.endswith(")") and rest.count(")") > rest.count("("):
        rest = rest[:-1]
    return rest.rstrip(".")


def usage_hint(message: str, words: str) -> str:
    """What to change on the command line, from argparse's message."""
    help_ = f"`orgnode {words} --help` lists its arguments" if words else "`orgnode --help` lists the commands"
    if m := _REQUIRED.search(message):
        return f"give {m['names']} ({help_})"
    if m := _UNKNOWN.search(message):
        return f"remove {m['names']}, which this command does not take ({help_})"
    if m := _ARGUMENT.search(message):
        return f"change {m['name']}: {m['detail']} ({help_})"
    return f"correct the command line as the message says ({help_})"


def hint_for(code: str, message: str, words: str = "", hint: str | None = None) -> str | None:
    """The hint for an error with ``code`` and ``message`` from the command ``words`` (None: none known)."""
    if hint:
        return hint
    if code == "usage":
        return usage_hint(message, words)
    if code == "malformed" and words == "job import":  # the input file's fault (node/formats/jobposting.py)
        return f"fix {message.split(': ', 1)[0]} in the posting file as the message says, then import it again"
    if code in PARTNER_CODES:  # the message is a partner's detail: untrusted text, not advice to follow
        return CATALOGUE[code]
    return instruction(message) or CATALOGUE.get(code)


def fallback_hint(message: str, words: str) -> str:
    """The last resort for a message that says only what went wrong (tests/node/test_error_hints.py
    keeps their list from growing): point at the command's own arguments and the state it depends on."""
    where = f"`orgnode {words} --help`" if words else "`orgnode --help`"
    return f"change what the message names (the arguments are in {where}); `orgnode status` shows the node's state"

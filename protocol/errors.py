"""Protocol errors, split by blame and carrying a stable code.

``RemoteProtocolError`` means a peer (or a file we were given) sent something wrong: the code is
returned to it and mapped to an HTTP status by the node. ``LocalProtocolError`` means our own code
misused the protocol (a bug): the node answers it as an internal error, never as the other side's
fault. An admin's fixable mistake is the node's ``UserError`` (node/core/errors.py, which documents
the whole hierarchy). Codes are part of the spec (docs/protocol.md, "Error codes") and never change
meaning.
"""

from __future__ import annotations

# Stable error codes. Keep in sync with docs/protocol.md.
MALFORMED = "malformed"
TOO_LARGE = "too-large"
UNKNOWN_VERSION = "unknown-version"
BAD_SIGNATURE = "bad-signature"
WRONG_AUTHOR = "wrong-author"
UNKNOWN_KEY = "unknown-key"
GAP = "gap"
FORK = "fork"
BAD_PREV = "bad-prev"
BAD_BODY = "bad-body"
DECRYPT_FAILED = "decrypt-failed"
UNTRUSTED_SENDER = "untrusted-sender"
WRONG_RECIPIENT = "wrong-recipient"
STALE = "stale"
REPLAY = "replay"
RATE_LIMITED = "rate-limited"
BAD_INVITE = "bad-invite"
EXPIRED = "expired"
HOP_LIMIT = "hop-limit"
REJECTED_BASE = "rejected-base"
BAD_PROOF = "bad-proof"
JOB_NOT_HELD = "job-not-held"
MATCH_QUOTA = "match-quota"
OVER_QUOTA = "over-quota"
INVITE_REVOKED = "invite-revoked"
CARD_MISMATCH = "card-mismatch"
DISK_FULL = "disk-full"  # blame: the answering node (its disk is full); the sender retries later
PATH_UNREACHABLE = "path-unreachable"  # a hop of a path call (docs/protocol.md 15) could not pass it on
BAD_TIMESTAMP = "bad-timestamp"  # a partner's statement stamped absurdly far in the future (docs/protocol.md 13.6)
NOT_OFFERED = "not-offered"  # a want for a seq that is not the server's re-share readable by the asker (14.2)

ALL_CODES = frozenset(
    {
        MALFORMED,
        TOO_LARGE,
        UNKNOWN_VERSION,
        BAD_SIGNATURE,
        WRONG_AUTHOR,
        UNKNOWN_KEY,
        GAP,
        FORK,
        BAD_PREV,
        BAD_BODY,
        DECRYPT_FAILED,
        UNTRUSTED_SENDER,
        WRONG_RECIPIENT,
        STALE,
        REPLAY,
        RATE_LIMITED,
        BAD_INVITE,
        EXPIRED,
        HOP_LIMIT,
        REJECTED_BASE,
        BAD_PROOF,
        JOB_NOT_HELD,
        MATCH_QUOTA,
        OVER_QUOTA,
        INVITE_REVOKED,
        CARD_MISMATCH,
        DISK_FULL,
        BAD_TIMESTAMP,
        PATH_UNREACHABLE,
        NOT_OFFERED,
    }
)


class ProtocolError(Exception):
    """Base of every protocol error; ``code`` is one of the stable codes above."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class RemoteProtocolError(ProtocolError):
    """The other side (a peer, or an input file) is to blame."""


class LocalProtocolError(ProtocolError):
    """We are to blame: our own code asked for something the protocol forbids (a bug)."""

"""Errors by blame: who has to act, and so how each layer answers (docs/architecture.md, "Errors").

- ``RemoteProtocolError`` (protocol/errors.py): a peer, or an input file we were given (a JobPosting,
  an audit bundle), sent something wrong. It carries a stable code; the federation API returns it to
  the peer, the admin API returns it to the admin's client with that code.
- ``LocalProtocolError`` (protocol/errors.py): our own code misused the protocol, a bug. No handler
  passes it off as the other side's fault: both APIs log it and answer ``internal`` (HTTP 500).
- ``UserError`` (here): an admin's fixable mistake, or a state they can change (the node is not
  running). One line saying what is wrong and what to do; ``field`` names the request field to blame
  (the admin API's key, e.g. ``valid_through``), and the CLI adds its flag (``--valid-through``).
- ``PartnerStatementRefused`` (here): a partner's signed statement this node cannot act on (a
  referral for a job that is not ours, a relay off every trust path): the partner's fault, found
  while reacting to what it sent. Logged with its ``code`` and dropped; never shown to a person, so
  it says what is wrong with the statement, not what to do (tests/node/test_error_hints.py).
- ``PeerUnavailable`` (here): a peer could not be reached; nobody is to blame yet, retry later.
- ``StorageFull`` (storage/errors.py): this machine's disk is full; nothing was stored. Blame: local
  (the machine, not our code and not the peer). Answered ``disk-full`` (HTTP 507) on both APIs, the
  CLI exits ``EXIT_DISK_FULL`` (node/core/disk.py); a peer that gets it retries later.

HTTP handlers do not turn one of these into another; each is raised where the blame is known.
"""

from __future__ import annotations

from protocol.errors import LocalProtocolError as LocalProtocolError
from protocol.errors import ProtocolError as ProtocolError
from protocol.errors import RemoteProtocolError as RemoteProtocolError
from storage.errors import StorageFull as StorageFull


class UserError(Exception):
    """A problem the admin can fix; the CLI prints ``str(exc)`` and exits with ``exit_code``.

    ``field`` is the admin API request field the message is about (None when it is about no single
    field); the message itself names that field, never a CLI flag, so the dashboard can show it too.
    """

    exit_code = 1
    code = "user-error"  # the stable code `--json` errors carry (docs/cli.md, "JSON conventions")

    def __init__(self, message: str, exit_code: int = 1, *, field: str | None = None, code: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.field = field
        self.hint = hint  # what to do, when the message's own instruction is not it (node/cli/hints.py)
        if code is not None:
            self.code = code
        elif field is not None:
            self.code = "invalid-value"


def flag_hint(field: str | None) -> str:
    """The CLI option for an admin API field: ``valid_through`` -> ``--valid-through``."""
    return f"--{field.replace('_', '-')}" if field else ""


class NodeNotRunning(UserError):
    """Nothing answers on the home's admin socket (as opposed to a running node answering an error)."""

    code = "node-not-running"


class PartnerStatementRefused(Exception):
    """A partner's statement this node will not act on; ``code`` names why in the log line."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class PeerUnavailable(Exception):
    """The peer could not be reached or answered with a transport-level failure (retry later).

    Raised by the HTTP client (node/http/client.py), handled by the core's sync and pairing loops,
    so it lives here: the core needs the type but must not import aiohttp.
    """


class PeerAddressRefused(PeerUnavailable):
    """The peer's URL is not a base URL, or names (or resolves to) an address this node does not contact.

    Counted like any unreachable peer by the sync loops (backoff, retried), and its text says why and
    what the admin can do (issue 8 item 10, THREATS row 10).
    """


class PeerCertificateRefused(PeerUnavailable):
    """The peer's https:// URL answered with a TLS certificate this node does not accept (untrusted
    issuer, expired, another host name), or the TLS handshake failed.

    Nothing was sent. Retried with back-off like an unreachable peer, and shown with the reason in
    `trust list` and `orgnode status`, since only an admin (of either node) can fix it.
    """

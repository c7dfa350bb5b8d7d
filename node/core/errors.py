"""Errors the shell reports to a user: one clear line saying what went wrong and what to do."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; the CLI prints ``str(exc)`` and exits with ``exit_code``."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class NodeNotRunning(UserError):
    """Nothing answers on the home's admin socket (as opposed to a running node answering an error)."""


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

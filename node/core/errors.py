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

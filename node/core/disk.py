"""A full disk, as the admin and the log see it (issue 10 item 7): one message, one warning per episode.

``storage/`` raises ``StorageFull`` wherever a write is refused for want of space (the database, or a
file the node writes); every surface answers it the same way: the admin API and the CLI with
``disk_full_message`` (HTTP 507, exit code ``EXIT_DISK_FULL``), the federation API with ``disk-full``
(HTTP 507: the sending peer retries later). ``DiskWatch`` is told of each refused write and of the
first write that goes through again, and logs a WARNING when an episode starts and an INFO when it
ends, never one line per refused write: a node on a full disk refuses every push every few seconds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from node.logs import log_event

EXIT_DISK_FULL = 75  # EX_TEMPFAIL (sysexits.h): a temporary failure, retry once space is freed


def disk_full_message(home: Path, path: Path | None = None) -> str:
    """What the admin reads when a write was refused for a full disk (the CLI and the admin API);
    ``path``: the file written when it was not the node's database (a backup copy, an export)."""
    return f"the disk holding {path or home} is full: free space, then retry; nothing was changed"


@dataclass
class DiskWatch:
    """Whether this node's disk is full now; logs the start and end of each episode once."""

    home: Path
    full: bool = False
    refused_writes: int = 0

    def refused(self, what: str = "the database") -> None:
        """A write was refused for a full disk: warn if this starts an episode."""
        self.refused_writes += 1
        if not self.full:
            self.full = True
            log_event("disk.full", logging.WARNING, home=str(self.home), store=what,
                      hint="free space on this disk; writes resume by themselves")

    def recovered(self) -> None:
        """A write went through again: the episode is over."""
        if self.full:
            self.full = False
            log_event("disk.recovered", home=str(self.home), refused_writes=self.refused_writes)
            self.refused_writes = 0

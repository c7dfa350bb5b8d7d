"""Admin requests of backup and restore (issue 10 item 2)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.core import fields as F
from node.core.errors import UserError


@dataclass(frozen=True)
class BackupSnapshot:
    """POST /backup: where the running node writes its database snapshot (a new file)."""

    path: Path

    @classmethod
    def from_json(cls, b: Any) -> BackupSnapshot:
        b = F.json_object(b)
        path = b.get("path")
        if not isinstance(path, str) or not os.path.isabs(path) or "\x00" in path:
            raise UserError("path must be an absolute file name for the database snapshot", field="path")
        return cls(Path(path))


@dataclass(frozen=True)
class RestoreDone:
    """POST /restore/done: the admin's explicit override of the post-restore resync."""

    force: bool

    @classmethod
    def from_json(cls, b: Any) -> RestoreDone:
        b = F.json_object(b)
        if b.get("force") is not True:
            raise UserError("force must be true: ending the resync early is an explicit decision", field="force")
        return cls(True)

"""The CLI's client for the admin API: JSON over HTTP on the node's Unix socket (stdlib only)."""

from __future__ import annotations

import http.client
import json
import re
import socket
from pathlib import Path
from typing import Any

from node.core.disk import EXIT_DISK_FULL
from node.core.errors import NodeNotRunning, UserError, flag_hint
from node.safe_files import check_own_socket
from protocol.errors import DISK_FULL


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(str(self._path))
        self.sock = sock


class AdminClient:
    def __init__(self, socket_path: Path, timeout: float = 30.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def is_running(self) -> bool:
        try:
            self.call("GET", "/status", timeout=2.0)
        except NodeNotRunning:
            return False
        return True

    def call(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        if not check_own_socket(self.socket_path):  # a socket another user bound would read our commands
            raise NodeNotRunning("the node is not running: start it with `orgnode run` (in another terminal or as a service)")
        conn = _UnixConnection(self.socket_path, timeout or self.timeout)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if payload is not None else {}
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise NodeNotRunning("the node is not running: start it with `orgnode run` (in another terminal or as a service)") from exc
        except PermissionError as exc:
            raise UserError(f"cannot open the admin socket {self.socket_path}: permission denied (run as the node's user)") from exc
        except TimeoutError as exc:
            raise UserError("the node did not answer in time; check its log") from exc
        except OSError as exc:
            raise UserError(f"cannot reach the node's admin socket: {exc}; check that `orgnode run` runs as this user with this --home") from exc
        finally:
            conn.close()
        try:
            result = json.loads(data) if data else None
        except ValueError as exc:
            raise UserError("the node sent an unreadable answer; check its log") from exc
        if response.status >= 400:
            raise answer_error(result, response.status, path)
        return result


# Fields the CLI does not spell as ``--field-name``: ``ttl_ms`` is a duration there (--expires);
# ``text`` (a note) and ``jsonld`` (job import) are positional arguments, not options at all.
OPTION_OF: dict[str, str | None] = {"ttl_ms": "--expires", "text": None, "jsonld": None}


# Per admin endpoint, the fields its command takes as positional arguments: blamed, they are named
# in the text already and get no "(option --x)" (`orgnode set-url URL`: "url" is not --url there).
POSITIONAL_OF: dict[str, frozenset[str]] = {"/set-url": frozenset({"url"})}


def answer_error(result: Any, status: int, path: str | None = None) -> UserError:
    """The admin API's error answer as the CLI shows it: the node's detail, plus the CLI option for
    the field it blames (the core names fields, not flags: docs/architecture.md, "Errors"); ``path``,
    the endpoint asked, says which command's arguments those are (``POSITIONAL_OF``)."""
    detail = result.get("detail") if isinstance(result, dict) else None
    field = result.get("field") if isinstance(result, dict) and isinstance(result.get("field"), str) else None
    message = str(detail or f"the node answered HTTP {status}")
    code = result.get("error") if isinstance(result, dict) and isinstance(result.get("error"), str) else None
    code = None if code == "user-error" else code  # the node's generic code: UserError picks a finer one
    if code == DISK_FULL:
        return UserError(message, EXIT_DISK_FULL, code=DISK_FULL)  # the node's disk is full: retry once space is freed
    positional = field is not None and path is not None and field in POSITIONAL_OF.get(path.split("?")[0], frozenset())
    option = (OPTION_OF[field] if field in OPTION_OF else flag_hint(field)) if field and not positional else None
    if field and option:
        # A machine field name in the text (consent_evidence) reads as the option it is on the command
        # line (--consent-evidence); a plain word (name, email, hops) is prose, so the option is added.
        named = "_" in field and re.search(rf"\b{re.escape(field)}\b", message)
        message = re.sub(rf"\b{re.escape(field)}\b", option, message, count=1) if named else f"{message} (option {option})"
    return UserError(message, field=field, code=code)

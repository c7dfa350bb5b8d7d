"""Dashboard accounts, sessions and the record of who did what (issue 14; migration 032).

Only hash strings are stored: a password's argon2 string (made in node/core/accounts.py) and the
SHA-256 of a session cookie's token, so a copy of the database opens no session. The action record
is local: nothing here is ever signed or sent to partners.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

ROLES = ("admin", "staff", "viewer")


@dataclass(frozen=True)
class UserRow:
    name: str
    role: str
    password_hash: str
    created_at: int


@dataclass(frozen=True)
class SessionRow:
    user: UserRow
    csrf: str
    expires_at: int


@dataclass(frozen=True)
class ActionRow:
    at: int
    user_name: str
    action: str
    object_id: str | None


class UserStore:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def add(self, name: str, role: str, password_hash: str, now: int) -> None:
        with self.db.atomic():
            self.db.execute("INSERT INTO dashboard_users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                            [name, role, password_hash, now])

    def get(self, name: str) -> UserRow | None:
        row = self.db.execute("SELECT name, role, password_hash, created_at FROM dashboard_users WHERE name = ?",
                              [name]).fetchone()
        return UserRow(*row) if row else None

    def all(self) -> list[UserRow]:
        rows = self.db.execute("SELECT name, role, password_hash, created_at FROM dashboard_users ORDER BY name").fetchall()
        return [UserRow(*r) for r in rows]

    def remove(self, name: str) -> bool:
        with self.db.atomic():
            self.db.execute("DELETE FROM dashboard_sessions WHERE user_name = ?", [name])
            return self.db.execute("DELETE FROM dashboard_users WHERE name = ?", [name]).rowcount > 0

    def set_password(self, name: str, password_hash: str) -> bool:
        """A new password also ends every open session of the user."""
        with self.db.atomic():
            self.db.execute("DELETE FROM dashboard_sessions WHERE user_name = ?", [name])
            return self.db.execute("UPDATE dashboard_users SET password_hash = ? WHERE name = ?",
                                   [password_hash, name]).rowcount > 0

    # --- sessions ---------------------------------------------------------------------------------

    def open_session(self, token_hash: bytes, name: str, csrf: str, now: int, expires_at: int) -> None:
        with self.db.atomic():
            self.db.execute("DELETE FROM dashboard_sessions WHERE expires_at <= ?", [now])
            self.db.execute("INSERT INTO dashboard_sessions (token_hash, user_name, csrf, created_at, expires_at) "
                            "VALUES (?, ?, ?, ?, ?)", [token_hash, name, csrf, now, expires_at])

    def session(self, token_hash: bytes, now: int) -> SessionRow | None:
        row = self.db.execute(
            "SELECT u.name, u.role, u.password_hash, u.created_at, s.csrf, s.expires_at FROM dashboard_sessions s "
            "JOIN dashboard_users u ON u.name = s.user_name WHERE s.token_hash = ? AND s.expires_at > ?",
            [token_hash, now]).fetchone()
        return SessionRow(UserRow(*row[:4]), row[4], row[5]) if row else None

    def close_session(self, token_hash: bytes) -> None:
        with self.db.atomic():
            self.db.execute("DELETE FROM dashboard_sessions WHERE token_hash = ?", [token_hash])

    # --- who did what -----------------------------------------------------------------------------

    def record(self, user_name: str, action: str, object_id: str | None, now: int) -> None:
        with self.db.atomic():
            self.db.execute("INSERT INTO dashboard_actions (at, user_name, action, object_id) VALUES (?, ?, ?, ?)",
                            [now, user_name, action, object_id])

    def actions(self, object_id: str | None = None, limit: int = 200) -> list[ActionRow]:
        if object_id is None:
            rows = self.db.execute("SELECT at, user_name, action, object_id FROM dashboard_actions ORDER BY id DESC LIMIT ?",
                                   [limit]).fetchall()
        else:
            rows = self.db.execute("SELECT at, user_name, action, object_id FROM dashboard_actions WHERE object_id = ? "
                                   "ORDER BY id DESC LIMIT ?", [object_id, limit]).fetchall()
        return [ActionRow(*r) for r in rows]

"""Dashboard accounts: add, check, sessions and login rate limiting (issue 14).

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's memory-hard choice); only the
encoded hash string is stored (storage/users.py). A session token is 32 random bytes given to the
browser once; the database keeps its SHA-256, with a CSRF token bound to that session. Failed logins
are counted per user name and per client address in memory: after ``MAX_FAILURES`` within
``FAILURE_WINDOW_MS`` further attempts are refused, even with the right password, until the window
has passed (no timing difference between an unknown name and a wrong password: both hash). The
dashboard checks passwords in a worker thread, a few at a time (``login_off_loop``).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from node.core.clock import Clock, RandomBytes
from node.core.errors import UserError
from storage.users import ROLES, SessionRow, UserRow, UserStore

SESSION_MS = 8 * 3_600_000  # a working day; the cookie's Max-Age is the same
MAX_FAILURES = 5
FAILURE_WINDOW_MS = 15 * 60_000
MIN_PASSWORD = 10
MAX_WAITING_CHECKS = 4  # dashboard password checks waiting at once; more sign-ins are refused unhashed
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password of anyone")


def token_hash(token: str) -> bytes:
    return hashlib.sha256(b"orgnode/dashboard-session/v1\x00" + token.encode()).digest()


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise UserError(f"user name {name!r} is not allowed: use 1 to 40 lower-case letters, digits, '.', '_' or '-', "
                        "starting with a letter or digit", field="name")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}", field="role")
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password is too short: use at least {MIN_PASSWORD} characters (a passphrase of a few "
                        "words is best)", field="password")
    return password


class LoginRefused(Exception):
    """A failed sign-in: ``limited`` when it was refused by the rate limit (the password was not checked)."""

    def __init__(self, limited: bool, *, busy: bool = False) -> None:
        super().__init__("too many sign-ins at once: try again in a moment" if busy else
                         "too many failed sign-ins: wait 15 minutes" if limited else "wrong user name or password")
        self.limited = limited


@dataclass
class LoginLimiter:
    clock: Clock
    failures: dict[str, deque[int]] = field(default_factory=dict)

    def _recent(self, key: str) -> deque[int]:
        now = self.clock()
        times = self.failures.setdefault(key, deque())
        while times and times[0] <= now - FAILURE_WINDOW_MS:
            times.popleft()
        return times

    def _prune(self, key: str) -> None:
        """Forget a key with no recent failure: a stranger trying endless names must not grow this dict."""
        if not self._recent(key):
            del self.failures[key]

    def limited(self, *keys: str) -> bool:
        refused = any(len(self._recent(k)) >= MAX_FAILURES for k in keys)
        for key in keys:
            if key in self.failures:
                self._prune(key)
        return refused

    def failed(self, *keys: str) -> None:
        for key in keys:
            self._recent(key).append(self.clock())

    def succeeded(self, user_key: str) -> None:
        self.failures.pop(user_key, None)


@dataclass(frozen=True)
class LoginAttempt:
    keys: tuple[str, str]  # the limiter's keys: the user name and the client's source
    user: UserRow | None  # None: no such user (the dummy hash is still checked, so both take as long)
    password_hash: str


def password_matches(encoded: str, password: str) -> bool:
    """The argon2id check alone: CPU only, no store, safe in a worker thread."""
    try:
        return bool(_hasher.verify(encoded, password))
    except (VerificationError, InvalidHashError):
        return False


_CHECKER: list[ThreadPoolExecutor] = []


def _checker() -> ThreadPoolExecutor:
    """One worker thread per process for password checks: a flood uses at most one core."""
    if not _CHECKER:
        _CHECKER.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="orgnode-password-check"))
    return _CHECKER[0]


@dataclass
class Accounts:
    store: UserStore
    clock: Clock
    random: RandomBytes
    limiter: LoginLimiter = field(init=False)
    _waiting: int = field(init=False, default=0)  # password checks queued or running (``login_off_loop``)

    def __post_init__(self) -> None:
        self.limiter = LoginLimiter(self.clock)

    def add(self, name: str, role: str, password: str) -> UserRow:
        check_name(name)
        check_role(role)
        check_password(password)
        if self.store.get(name) is not None:
            raise UserError(f"a user named {name} exists already: pick another name, or `orgnode user passwd {name}`",
                            field="name")
        self.store.add(name, role, _hasher.hash(password), self.clock())
        user = self.store.get(name)
        assert user is not None
        return user

    def remove(self, name: str) -> None:
        if not self.store.remove(name):
            raise UserError(f"no user named {name} (see `orgnode user list`)", field="name")

    def passwd(self, name: str, password: str) -> None:
        check_password(password)
        if self.store.get(name) is None:
            raise UserError(f"no user named {name} (see `orgnode user list`)", field="name")
        self.store.set_password(name, _hasher.hash(password))

    async def login_off_loop(self, name: str, password: str, client: str) -> tuple[str, SessionRow]:
        """A new session (token for the cookie, its row) or ``LoginRefused``. The argon2 check (0.1–0.2 s
        of CPU) runs in one worker thread: on the event loop, a flood of sign-ins (a new source address
        for each few, which any local user has in 127.0.0.0/8) held the federation API and the admin
        socket for as long as it lasted. At most ``MAX_WAITING_CHECKS`` checks wait at once; a sign-in
        beyond them is refused unhashed (rate limited)."""
        if self._waiting >= MAX_WAITING_CHECKS:
            raise LoginRefused(limited=True, busy=True)
        attempt = self.begin_login(name, client)
        self._waiting += 1
        try:
            ok = await asyncio.get_running_loop().run_in_executor(_checker(), password_matches, attempt.password_hash,
                                                                  password)
        finally:
            self._waiting -= 1
        return self.finish_login(attempt, ok)

    def begin_login(self, name: str, client: str) -> LoginAttempt:
        """The rate limit and the user's hash: what a password check needs (on the loop: it reads the store)."""
        keys = (f"user:{name}", f"addr:{client}")
        if self.limiter.limited(*keys):
            raise LoginRefused(limited=True)
        user = self.store.get(name)
        return LoginAttempt(keys, user, user.password_hash if user else _DUMMY_HASH)

    def finish_login(self, attempt: LoginAttempt, ok: bool) -> tuple[str, SessionRow]:
        """Count a failure, or open the session of a checked password."""
        user = attempt.user
        if not ok or user is None:
            self.limiter.failed(*attempt.keys)
            raise LoginRefused(limited=False)
        self.limiter.succeeded(attempt.keys[0])
        token = self.random(32).hex()
        csrf = self.random(32).hex()
        now = self.clock()
        self.store.open_session(token_hash(token), user.name, csrf, now, now + SESSION_MS)
        session = self.store.session(token_hash(token), now)
        assert session is not None
        return token, session

    def session(self, token: str) -> SessionRow | None:
        return self.store.session(token_hash(token), self.clock())

    def logout(self, token: str) -> None:
        self.store.close_session(token_hash(token))

    def record(self, user: str, action: str, object_id: str | None = None) -> None:
        self.store.record(user, action, object_id, self.clock())

"""What every page template gets: the signed-in user, the form token, the menu, and readable times."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import jinja2
from aiohttp import web

from node.web.context import ROLE_RANK, SESSION, WEB

MENU = (("/", "Overview"), ("/jobs", "Jobs"), ("/candidates", "Candidates"), ("/matches", "Matches"), ("/referrals", "Referrals"), ("/partners", "Partners"), ("/audit", "Audit"))


async def page_context(request: web.Request) -> dict[str, Any]:
    session = request.get(SESSION)
    ctx = request.app[WEB]
    role = session.user.role if session is not None else None
    return {"me": session.user if session else None, "csrf": session.csrf if session else "",
            "can_edit": role is not None and ROLE_RANK[role] >= ROLE_RANK["staff"],
            "is_admin": role == "admin",
            "menu": MENU, "here": request.path, "org_name": ctx.service.config.name}


def when(ms: int | None) -> str:
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%d %b %Y, %H:%M UTC")


def duration(ms: int | None) -> str:
    """A span of time for a person: "40 seconds", "12 minutes", "3 hours", "2 days"."""
    if ms is None:
        return "—"
    seconds = abs(ms) // 1000
    for size, unit in ((86_400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds >= size or size == 1:
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return "0 seconds"


def fingerprint_groups(text: str) -> str:
    """A fingerprint in groups of four, as people read it aloud to compare."""
    plain = text.replace("-", "").replace(":", "").replace(" ", "")
    return " ".join(plain[i:i + 4] for i in range(0, len(plain), 4))


def property_words(text: str) -> str:
    """A schema.org property name as words for a reader ("hiringOrganization" -> "hiring organization")."""
    return re.sub(r"(?<=[a-z])([A-Z])", lambda m: " " + m.group(1).lower(), text)


def install(env: jinja2.Environment) -> None:
    env.filters["when"] = when
    env.filters["fingerprint"] = fingerprint_groups
    env.filters["duration"] = duration
    env.filters["property_words"] = property_words

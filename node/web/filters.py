"""What every page template gets: the signed-in user, the form token, the menu, and readable times."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup

from node.formats.html_text import sanitize_html, text_to_html
from node.web.consent_words import HISTORY_WORDS, REQUEST_WORDS, consent_words, day
from node.web.context import ROLE_RANK, SESSION, WEB
from protocol.jobs import Salary

MENU = (("/", "Overview"), ("/jobs", "Jobs"), ("/candidates", "Candidates"), ("/matches", "Matches"), ("/referrals", "Referrals"), ("/partners", "Partners"), ("/audit", "Audit"))


async def page_context(request: web.Request) -> dict[str, Any]:
    session = request.get(SESSION)
    ctx = request.app[WEB]
    role = session.user.role if session is not None else None
    return {"me": session.user if session else None, "csrf": session.csrf if session else "",
            "can_edit": role is not None and ROLE_RANK[role] >= ROLE_RANK["staff"],
            "is_admin": role == "admin",
            "menu": MENU, "here": request.path, "org_name": ctx.service.config.name,
            "consent_words": lambda consent: consent_words(consent, ctx.talent.org_name)}


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


UNIT_WORDS = {"HOUR": "an hour", "DAY": "a day", "WEEK": "a week", "MONTH": "a month", "YEAR": "a year"}


def money(cents: int) -> str:
    """An amount in hundredths as people write it: "30,000", "12.50"."""
    return f"{cents // 100:,}" if cents % 100 == 0 else f"{cents / 100:,.2f}"


def pay_words(salary: Salary | None) -> str | None:
    """A job's pay for a reader: "EUR 30,000 to 38,000 a year", "from USD 40 an hour" (None: not given)."""
    if salary is None or (salary.min is None and salary.max is None):
        return None
    low, high, unit = salary.min, salary.max, UNIT_WORDS.get(salary.unit, f"per {salary.unit.lower()}")
    if low is not None and high is not None and low != high:
        amount = f"{salary.currency} {money(low)} to {money(high)}"
    elif low is not None:
        amount = f"{'from ' if high is None else ''}{salary.currency} {money(low)}"
    else:
        assert high is not None
        amount = f"up to {salary.currency} {money(high)}"
    return f"{amount} {unit}"


def description_html(text: str) -> Markup:
    """A job description (plain text in the protocol, written by whoever posted it: a partner's is
    untrusted) as HTML paragraphs: escaped by ``text_to_html``, then through the sanitiser
    (node/formats/html_text.py), so whatever reaches the page is the sanitiser's output. The one place
    the dashboard hands Jinja markup (tests/web/test_dashboard_security.py checks it stays so)."""
    return Markup(sanitize_html(text_to_html(text)))  # noqa: S704  # the sanitiser's output, nothing else


def install(env: jinja2.Environment) -> None:
    env.filters["when"] = when
    env.filters["day"] = day
    env.filters["fingerprint"] = fingerprint_groups
    env.filters["duration"] = duration
    env.filters["property_words"] = property_words
    env.filters["request_words"] = lambda state: REQUEST_WORDS.get(state, state)
    env.filters["history_words"] = lambda state: HISTORY_WORDS.get(state, state)

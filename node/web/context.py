"""What the dashboard's handlers read: the node's use cases, the accounts, and typed app keys."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from node.core.accounts import Accounts
from node.core.federation import Federation
from node.core.path_calls import PathCalls
from node.core.provenance import Provenance
from node.core.service import NodeService
from node.core.talent import Talent
from node.http.client import FederationClient
from node.lan.admin import LanAdmin
from storage.users import SessionRow


@dataclass
class WebContext:
    service: NodeService
    federation: Federation
    talent: Talent
    provenance: Provenance
    client: FederationClient
    accounts: Accounts
    lan: LanAdmin | None = None
    paths: PathCalls | None = None  # audit proofs and matches through the trust path


WEB = web.AppKey("web_context", WebContext)
SESSION = web.RequestKey("dashboard_session", SessionRow)  # request[SESSION]: the signed-in user's session
COOKIE = "orgnode_session"
LOGIN_COOKIE = "orgnode_login_csrf"

MAX_BODY_BYTES = 8 * 1024 * 1024  # a form post (with a CSV file, its preview) at most; larger: 413 in plain words

ROLE_RANK = {"viewer": 0, "staff": 1, "admin": 2}


def session_of(request: web.Request) -> SessionRow:
    session: SessionRow = request[SESSION]
    return session

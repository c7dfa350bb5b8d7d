"""The dashboard refuses what it must (issue 14 items 1-2): real nodes, real HTTP, no browser.

Unauthenticated requests, wrong-role actions, cross-site and token-less form posts are refused and
change nothing; the same request with a session, the right role and the form token succeeds (the
positive control). Sign-ins are rate limited; passwords are stored as argon2id strings only.
"""

from __future__ import annotations

import json

import pytest

from node.core.accounts import MAX_FAILURES, token_hash
from node.core.errors import UserError
from node.http.admin_api import status_info
from storage.users import UserStore
from tests.web.helpers import PASSWORD, Browserless, add_user, dashboard_url


def client(http, runtime) -> Browserless:
    return Browserless(http, dashboard_url(runtime), {})


def own_jobs(runtime) -> list[str]:
    return [j["title"] for j in runtime.talent.list_jobs(mine=True)]


async def test_the_dashboard_is_on_its_own_loopback_port_and_status_reports_it(net, http):
    node = await net.start("Acme")
    url = runtime_url = dashboard_url(node)
    assert url.startswith("http://127.0.0.1:") and not url.endswith(f":{node.port}")
    assert status_info(node.service, running=True, health=node.federation.health)["dashboard_url"] == runtime_url + "/"
    async with http.get(f"http://127.0.0.1:{node.port}/login") as resp:  # never on the federation port
        assert resp.status == 404
    async with http.get(url + "/login") as resp:
        assert resp.status == 200
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_unauthenticated_requests_are_refused(net, http):
    node = await net.start("Acme")
    anon = client(http, node)
    for path in ("/", "/jobs", "/partners"):
        status, _, resp = await anon.get(path)
        assert status == 303 and resp.headers["Location"] == "/login"
    status, _, _ = await anon.post("/jobs", {"title": "Nurse", "skills": "nursing", "csrf": "x"})
    assert status == 401
    assert own_jobs(node) == []


async def test_a_viewer_cannot_change_anything_and_staff_can(net, http):
    node = await net.start("Acme")
    add_user(node, "vera", "viewer")
    add_user(node, "sam", "staff")
    viewer = client(http, node)
    assert await viewer.sign_in("vera") == 303
    status, html, _ = await viewer.get("/jobs")
    assert status == 200 and "Post a job" not in html  # no form offered
    token = await viewer.token("/jobs")
    status, _, _ = await viewer.post("/jobs", {"csrf": token, "title": "Nurse", "skills": "nursing"})
    assert status == 403
    status, _, _ = await viewer.post("/partners/invite", {"csrf": token, "name": "X"})
    assert status == 403
    assert own_jobs(node) == [] and node.federation.peers.invites() == []
    staff = client(http, node)
    assert await staff.sign_in("sam") == 303
    status, _, resp = await staff.post("/jobs", {"csrf": await staff.token("/jobs"), "title": "Nurse", "skills": "nursing"})
    assert status == 303, resp
    assert own_jobs(node) == ["Nurse"]
    # who did it is recorded locally
    job_id = node.talent.list_jobs(mine=True)[0]["id"]
    assert [(a.user_name, a.action) for a in UserStore(node.service.db).actions(job_id)] == [("sam", "posted the job")]
    status, _, _ = await staff.post("/partners/invite", {"csrf": await staff.token("/partners"), "name": "X"})
    assert status == 403  # partners are the admin's


async def test_form_posts_without_the_token_or_from_another_site_are_refused(net, http):
    node = await net.start("Acme")
    add_user(node, "sam", "staff")
    staff = client(http, node)
    await staff.sign_in("sam")
    token = await staff.token("/jobs")
    form = {"title": "Nurse", "skills": "nursing"}
    assert (await staff.post("/jobs", form))[0] == 403
    assert (await staff.post("/jobs", {**form, "csrf": "0" * 64}))[0] == 403
    assert (await staff.post("/jobs", {**form, "csrf": token}, {"Origin": "https://evil.example"}))[0] == 403
    assert (await staff.post("/jobs", {**form, "csrf": token}, {"Sec-Fetch-Site": "cross-site"}))[0] == 403
    assert own_jobs(node) == []
    assert (await staff.post("/jobs", {**form, "csrf": token}, {"Origin": dashboard_url(node)}))[0] == 303
    assert own_jobs(node) == ["Nurse"]


async def test_cookies_are_secure_httponly_samesite_and_sessions_end(net, http):
    node = await net.start("Acme")
    add_user(node, "sam", "staff")
    staff = client(http, node)
    _, html, _ = await staff.get("/login")
    from tests.web.helpers import form_token

    async with http.post(dashboard_url(node) + "/login", allow_redirects=False,
                         data={"csrf": form_token(html), "name": "sam", "password": PASSWORD},
                         headers={"Cookie": f"orgnode_login_csrf={staff.cookies['orgnode_login_csrf']}"}) as resp:
        assert resp.status == 303
        raw = next(v for v in resp.headers.getall("Set-Cookie") if v.startswith("orgnode_session=")).lower()
        token = resp.cookies["orgnode_session"].value
    assert "httponly" in raw and "secure" in raw and "samesite=strict" in raw and "max-age=28800" in raw
    row = node.service.db.execute("SELECT token_hash FROM dashboard_sessions").fetchone()
    assert row[0] == token_hash(token) and token.encode() not in bytes(row[0])  # only its hash is stored
    staff.cookies["orgnode_session"] = token
    assert (await staff.get("/jobs"))[0] == 200
    await staff.post("/logout", {"csrf": await staff.token("/jobs")})
    staff.cookies["orgnode_session"] = token  # the old cookie, replayed
    assert (await staff.get("/jobs"))[0] == 303


async def test_sign_in_is_rate_limited_even_with_the_right_password(net, http):
    node = await net.start("Acme")
    add_user(node, "sam", "staff")
    browser = client(http, node)
    for _ in range(MAX_FAILURES):
        assert await browser.sign_in("sam", "wrong password!") == 401
    assert await browser.sign_in("sam") == 429
    assert "orgnode_session" not in browser.cookies
    other = client(http, node)
    add_user(node, "ann", "admin")
    assert await other.sign_in("ann") == 429  # the same address is limited too


async def test_passwords_are_stored_as_argon2id_and_checked(net, tmp_path):
    node = await net.start("Acme")
    add_user(node, "sam", "staff")
    stored = UserStore(node.service.db).get("sam")
    assert stored is not None and stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash
    with pytest.raises(UserError, match="too short"):
        node.accounts.add("tim", "staff", "short")
    with pytest.raises(UserError, match="role"):
        node.accounts.add("tim", "root", PASSWORD)
    with pytest.raises(UserError, match="exists already"):
        node.accounts.add("sam", "viewer", PASSWORD)
    assert json.dumps([u.name for u in UserStore(node.service.db).all()]) == '["sam"]'


def test_a_remote_dashboard_needs_allow_remote_and_tls():
    from node.config import Config

    base = ("Acme", "nonprofit", "127.0.0.1", 8470, "http://127.0.0.1:8470")
    assert Config(*base, dashboard_listen="127.0.0.1:9480").dashboard_address == ("127.0.0.1", 9480)  # positive control
    assert Config(*base, dashboard_enabled=False).dashboard_address is None
    with pytest.raises(UserError, match="dashboard_allow_remote") as refused:
        Config(*base, dashboard_listen="0.0.0.0:9480")
    assert refused.value.field == "dashboard_listen"
    with pytest.raises(UserError, match="tls_cert"):
        Config(*base, dashboard_listen="0.0.0.0:9480", dashboard_allow_remote=True)  # allowed, but no TLS: still refused

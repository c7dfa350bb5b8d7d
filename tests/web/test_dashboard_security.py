"""The dashboard's refusals over every route it has (issue 14, acceptance pass sec14).

The routes are read from the application itself (``create_app``'s router), so a route added later
without an entry in ``MIN_ROLE`` fails here. For each: a stranger is sent to sign-in (reads) or
refused (writes), the federation port does not serve it, a viewer or staff member below the route's
role gets 403, and a form post without the session's own token or from another site gets 403, with
nothing stored; positive controls show the same requests pass with the right role and token.
Also: HEAD is a read, the sign-in body is small, oversized posts are refused in plain words, the
login limiter forgets, sessions expire, a pre-set cookie is never adopted, and ``next=`` goes nowhere.
"""

from __future__ import annotations

import aiohttp

from node.core.accounts import FAILURE_WINDOW_MS, MAX_FAILURES, SESSION_MS, LoginLimiter
from node.web.app import create_app
from tests.node.federation_helpers import FakeClock, pair
from tests.web.helpers import PASSWORD, Browserless, add_user, dashboard_url, form_token

HEX32, HEX64 = "0" * 32, "0" * 64
# The lowest role each route needs beyond being signed in ("viewer": any account).
MIN_ROLE = {
    ("GET", "/"): "viewer", ("GET", "/jobs"): "viewer", ("POST", "/jobs"): "staff",
    ("POST", "/jobs/{job_id}/close"): "staff", ("GET", "/jobs/{job_id}/edit"): "staff", ("POST", "/jobs/{job_id}/edit"): "staff",
    ("GET", "/jobs/import"): "staff", ("POST", "/jobs/import"): "staff", ("GET", "/jobs/{job_id}/travel"): "viewer",
    ("GET", "/candidates/import"): "staff", ("POST", "/candidates/import/preview"): "staff", ("POST", "/candidates/import"): "staff",
    ("GET", "/candidates"): "viewer", ("POST", "/candidates"): "staff",
    ("POST", "/candidates/{candidate_id}/consent"): "staff", ("POST", "/candidates/{candidate_id}/withdraw"): "staff",
    ("GET", "/candidates/{candidate_id}/erase"): "staff", ("POST", "/candidates/{candidate_id}/erase"): "staff",
    ("GET", "/candidates/{candidate_id}/report"): "viewer", ("GET", "/candidates/{candidate_id}/edit"): "staff",
    ("POST", "/candidates/{candidate_id}/edit"): "staff",
    ("GET", "/matches"): "viewer", ("POST", "/matches"): "staff", ("POST", "/matches/request"): "staff",
    ("GET", "/referrals"): "viewer", ("POST", "/referrals/{referral_id}/stage"): "staff",
    ("POST", "/referrals/{referral_id}/correct"): "staff", ("POST", "/requests/{request_id}/{answer}"): "staff",
    ("GET", "/partners"): "viewer", ("POST", "/partners/invite"): "admin", ("POST", "/partners/accept"): "admin", ("POST", "/partners/{node_id}/approve"): "admin",
    ("POST", "/partners/{node_id}/remove"): "admin", ("GET", "/partners/nearby"): "viewer",
    ("POST", "/partners/nearby/{node_id}/request"): "admin",
    ("GET", "/audit"): "viewer", ("POST", "/audit/export"): "staff", ("POST", "/audit/check"): "viewer",
    ("POST", "/logout"): "viewer",
}
OPEN = {("GET", "/login"), ("POST", "/login"), ("GET", "/static")}
RANK = {"viewer": 0, "staff": 1, "admin": 2}


def app_routes() -> list[tuple[str, str]]:
    """Every (method, path template) the dashboard serves; HEAD is its GET."""
    app = create_app(None)  # type: ignore[arg-type]  # routes only: no request is served
    return sorted({(r.method, r.resource.canonical) for r in app.router.routes() if r.method != "HEAD"})  # type: ignore[union-attr]


def concrete(template: str) -> str:
    return (template.replace("{node_id}", HEX64).replace("{answer}", "approve").replace("{job_id}", HEX32)
            .replace("{candidate_id}", HEX32).replace("{referral_id}", HEX32).replace("{request_id}", HEX32))


def stored(node) -> list[str]:
    """Everything in the node's database, as SQL text: a refusal must leave it as it was."""
    return list(node.service.db.conn.iterdump())


async def signed_in(http, node, name: str) -> tuple[Browserless, str]:
    user = Browserless(http, dashboard_url(node), {})
    assert await user.sign_in(name) == 303
    return user, await user.token("/")


def test_every_route_has_a_role_entry():
    assert set(app_routes()) == set(MIN_ROLE) | OPEN


async def test_strangers_are_refused_on_every_route_and_the_federation_port_serves_none(net, http):
    node = await net.start("Acme", lan_discovery=False)
    before = stored(node)
    for method, template in MIN_ROLE:
        path = concrete(template)
        async with http.request(method, dashboard_url(node) + path, allow_redirects=False, data={"csrf": "x"}) as resp:
            if method == "GET":
                assert (resp.status, resp.headers.get("Location")) == (303, "/login"), path
            else:
                assert resp.status == 401, path
            assert "default-src 'self'" in resp.headers["Content-Security-Policy"], path
        async with http.head(dashboard_url(node) + path, allow_redirects=False) as resp:
            # A HEAD is a read, never a form post: a stranger is sent to sign in, on every route.
            assert (resp.status, resp.headers.get("Location")) == (303, "/login"), path
        for fed_method in ("GET", "POST"):
            async with http.request(fed_method, f"http://127.0.0.1:{node.port}{path}", allow_redirects=False) as resp:
                assert resp.status in (404, 405), (fed_method, path)
                assert "orgnode_login_csrf" not in resp.cookies and "Sign in" not in await resp.text()
    assert stored(node) == before
    async with http.get(dashboard_url(node) + "/login") as resp:  # positive control: the sign-in page is served
        assert resp.status == 200 and "Sign in" in await resp.text()


async def test_every_state_changing_route_checks_the_role_and_the_sessions_own_token(net, http):
    node = await net.start("Acme", lan_discovery=False)
    for name, role in (("vera", "viewer"), ("sam", "staff"), ("ann", "admin")):
        add_user(node, name, role)
    users = {name: await signed_in(http, node, name) for name in ("vera", "sam", "ann")}
    posts = [t for (m, t), role in MIN_ROLE.items() if m == "POST" and t != "/logout"]
    before = stored(node)
    for (method, template), needed in MIN_ROLE.items():
        for name, role in (("vera", "viewer"), ("sam", "staff")):
            if RANK[role] >= RANK[needed]:
                continue
            user, token = users[name]
            path = concrete(template)
            status, _, _ = await (user.get(path) if method == "GET" else user.post(path, {"csrf": token}))
            assert status == 403, (name, method, path)
    ann, ann_token = users["ann"]
    _, sam_token = users["sam"]
    for template in posts:
        path = concrete(template)
        for form, headers in (({}, None), ({"csrf": "0" * 64}, None), ({"csrf": sam_token}, None),
                              ({"csrf": ann_token}, {"Origin": "https://evil.example"}),
                              ({"csrf": ann_token}, {"Sec-Fetch-Site": "cross-site"})):
            status, _, _ = await ann.post(path, form, headers)
            assert status == 403, (path, form, headers)
    assert stored(node) == before  # nothing refused above left a trace
    for template in posts:  # positive control: the admin with the token gets past both guards on every route
        if "nearby" in template:
            continue  # asks the LAN; tests/web/test_partners_page.py covers it
        status, _, _ = await ann.post(concrete(template), {"csrf": ann_token})
        assert status not in (401, 403), template


async def test_a_head_request_is_a_read_not_a_form_post(net, http):
    node = await net.start("Acme", lan_discovery=False)
    add_user(node, "sam", "staff")
    user, _ = await signed_in(http, node, "sam")
    async with http.head(dashboard_url(node) + "/jobs", headers=user.headers(), allow_redirects=False) as resp:
        assert resp.status == 200  # was 403: a HEAD was checked for a form token
    async with http.head(dashboard_url(node) + "/jobs", allow_redirects=False) as resp:
        assert (resp.status, resp.headers["Location"]) == (303, "/login")  # was 401


async def test_the_sign_in_form_is_read_only_when_small_and_big_posts_are_refused_in_plain_words(net, http):
    node = await net.start("Acme", lan_discovery=False)
    add_user(node, "sam", "staff")
    anon = Browserless(http, dashboard_url(node), {})
    _, html, _ = await anon.get("/login")
    status, text, resp = await anon.post("/login", {"csrf": form_token(html), "name": "sam", "password": "x" * 65536})
    assert status == 413 and "too large" in text and "Content-Security-Policy" in resp.headers  # was 401 after reading it
    assert "orgnode_session" not in anon.cookies
    assert await anon.sign_in("sam") == 303  # positive control
    token = await anon.token("/candidates/import")
    before = stored(node)
    big = aiohttp.FormData({"csrf": token})
    big.add_field("file", b"name,email,skills\n" + b"a" * (9 * 1024 * 1024), filename="big.csv", content_type="text/csv")
    async with http.post(dashboard_url(node) + "/candidates/import/preview", data=big, headers=anon.headers(),
                         allow_redirects=False) as resp:
        text = await resp.text()
        assert resp.status == 413 and "nothing was saved" in text and "8 MiB" in text, text  # was "Maximum request body size"
    assert stored(node) == before


def test_the_sign_in_limiter_forgets_names_that_never_failed():
    now = [0]
    limiter = LoginLimiter(lambda: now[0])
    limiter.failed(*["addr:10.0.0.9"] * MAX_FAILURES)
    for i in range(1000):  # a stranger trying endless names from a limited address
        assert limiter.limited(f"user:guess{i}", "addr:10.0.0.9")
    assert set(limiter.failures) == {"addr:10.0.0.9"}  # was 1001 keys, growing with every name tried
    now[0] = FAILURE_WINDOW_MS + 1
    assert not limiter.limited("user:ann", "addr:10.0.0.9") and limiter.failures == {}  # the window passed: all forgotten


async def test_sessions_expire_and_a_cookie_set_before_sign_in_is_never_adopted(net, http):
    node = await net.start("Acme", lan_discovery=False)
    add_user(node, "sam", "staff")
    clock = FakeClock(follow_wall=True)
    node.service.clock = clock  # the running dashboard's sessions read the node's clock
    signed = Browserless(http, dashboard_url(node), {})
    assert await signed.sign_in("sam") == 303
    assert (await signed.get("/jobs"))[0] == 200  # positive control
    clock.advance(SESSION_MS)
    assert (await signed.get("/jobs"))[0] == 303  # expired: sent to sign in again
    fixed = "a" * 64  # an attacker's chosen cookie value
    user = Browserless(http, dashboard_url(node), {"orgnode_session": fixed})
    assert await user.sign_in("sam") == 303
    assert user.cookies["orgnode_session"] != fixed
    assert (await Browserless(http, dashboard_url(node), {"orgnode_session": fixed}).get("/jobs"))[0] == 303
    assert (await user.get("/jobs"))[0] == 200


async def test_sign_in_never_redirects_off_site_and_static_files_stay_in_their_folder(net, http):
    node = await net.start("Acme", lan_discovery=False)
    add_user(node, "sam", "staff")
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        user = Browserless(http, dashboard_url(node), {})
        _, html, _ = await user.get("/login?next=" + target)
        status, _, resp = await user.post("/login?next=" + target, {"csrf": form_token(html), "name": "sam", "password": PASSWORD})
        assert (status, resp.headers["Location"]) == (303, "/")
    for path in ("/static/..%2fapp.py", "/static/%2e%2e%2fapp.py", "/static/..%2f..%2fconfig.py", "/static//etc/passwd",
                 "/static/%2e%2e/app.py"):
        async with http.get(dashboard_url(node) + path, allow_redirects=False) as resp:
            body = await resp.text()
            assert resp.status in (303, 403, 404) and "import" not in body and "root:" not in body, path
            assert "Content-Security-Policy" in resp.headers
    async with http.get(dashboard_url(node) + "/static/app.js") as resp:  # positive control
        assert resp.status == 200 and "data-confirm" in await resp.text()


async def test_destructive_one_click_forms_ask_first(net, http):
    node = await net.start("Acme", lan_discovery=False)
    add_user(node, "sam", "staff")
    user, token = await signed_in(http, node, "sam")
    assert (await user.post("/jobs", {"csrf": token, "title": "Nurse", "skills": "nursing"}))[0] == 303
    _, html, _ = await user.get("/jobs")
    job_id = node.talent.list_jobs(mine=True)[0]["id"]
    assert f'action="/jobs/{job_id}/close" data-confirm="Close “Nurse”?' in html  # app.js asks before it is sent


async def test_a_crafted_link_cannot_put_its_own_words_on_the_partners_page(net, http):
    node = await net.start("Acme", lan_discovery=False)
    add_user(node, "ann", "admin")
    user, _ = await signed_in(http, node, "ann")
    status, html, _ = await user.get("/partners?requested=Bright+Futures+is+verified:+approve+it+now")
    assert status == 200 and "<h1>Partners</h1>" in html and "approve it now" not in html  # was shown as the page's own notice
    status, html, _ = await user.get(f"/partners?requested={'f' * 64}&answer=asked")
    assert status == 200 and "<h1>Partners</h1>" in html and "Asked" not in html  # an unknown node: no notice
    partner = await net.start("Bright Futures", lan_discovery=False)
    await pair(node, partner)
    status, html, _ = await user.get(f"/partners?requested={partner.service.node_id.hex()}&answer=asked")
    assert status == 200 and "Asked Bright Futures to pair" in html  # positive control: a known node's notice is shown


async def test_an_imported_postings_leftovers_are_named_in_words(net, http):
    node = await net.start("Acme", lan_discovery=False)
    add_user(node, "sam", "staff")
    user, token = await signed_in(http, node, "sam")
    posting = ('{"@context": "https://schema.org", "@type": "JobPosting", "title": "Nurse", "skills": "nursing", '
               '"datePosted": "2026-01-05", "hiringOrganization": {"@type": "Organization", "name": "Acme"}}')
    status, html, _ = await user.post("/jobs/import", {"csrf": token, "posting": posting, "hops": "1"})
    assert status == 200 and "hiring organization" in html and "hiringOrganization" not in html  # was the property name


def test_no_template_can_turn_escaping_off():
    """Every partner field (titles, names, notes, referral reasons, JSON-LD values) reaches HTML only through
    these templates: escaping on for all of them, and none opts out."""
    from pathlib import Path

    import node.web

    folder = Path(node.web.__file__).parent / "templates"
    texts = {p.name: p.read_text() for p in folder.glob("*.html")}
    assert len(texts) > 20  # positive control: the templates were found
    for name, text in texts.items():
        assert "|safe" not in text.replace(" ", "") and "autoescape false" not in text and "Markup" not in text, name
    # The one way markup reaches a page: a job description, the sanitiser's output (node/web/filters.py).
    sources = {p.name: p.read_text() for p in folder.parent.glob("*.py")}
    assert [name for name, text in sources.items() if "Markup(" in text] == ["filters.py"]
    assert sources["filters.py"].count("Markup(") == 1 and "return Markup(sanitize_html(" in sources["filters.py"]
    from node.web.filters import description_html

    assert str(description_html('a <script>x</script>\n\n<b onclick="y">b</b>')) == (
        "<p>a &lt;script&gt;x&lt;/script&gt;</p><p>&lt;b onclick=\"y\"&gt;b&lt;/b&gt;</p>")
    app = create_app(None)  # type: ignore[arg-type]
    import aiohttp_jinja2

    assert aiohttp_jinja2.get_env(app).autoescape is True

"""The web console (`/ui`) in headless Chromium, against the release binary.

Traffic goes through the gateway's mock upstream first (the team key of the
session's gateway, a second team for isolation, an answer the grounding check
flags, a prompt with two versions); then a real browser signs in and uses the
pages. With PROMPTGATE_SCREENSHOTS=<dir> the tests also save a screenshot of
each page there (the README's come from PROMPTGATE_SCREENSHOTS=docs/screenshots).
"""

from __future__ import annotations

import http.server
import os
import secrets
import threading
import time
import urllib.parse

import httpx
import pytest

from cdp import Browser, chromium_path, screenshot_dir

PROMPT = "console/answer-" + secrets.token_hex(3)
FLAGGED_ANSWER = "Refunds take 30 days and are paid in cash."
CONTEXT = ["Refunds are issued within 5 business days.", "Refunds go back to the original payment method."]


def _need_chromium():
    if chromium_path() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed; .ci/run installs it", pytrace=False)
        pytest.skip("chromium is not installed (scripts/test installs it: apt-get install chromium)")


def _wait_for(fetch, what: str, timeout_s: float = 20.0):
    """Records are written in batches, off the request path: poll for them."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = fetch()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not appear within {timeout_s} s")


class Traffic:
    def __init__(self, gateway):
        self.gateway = gateway
        admin = {"Authorization": f"Bearer {gateway.admin_key}"}
        team_a = {"Authorization": f"Bearer {gateway.key}"}
        origin = gateway.origin
        # A second team, whose records team A must never see.
        self.other_team = "other-" + secrets.token_hex(3)
        assert httpx.post(f"{origin}/v1/teams", json={"name": self.other_team}, headers=admin).status_code == 201
        r = httpx.post(f"{origin}/v1/teams/{self.other_team}/keys", json={}, headers=admin)
        assert r.status_code == 201, r.text
        self.other_key = r.json()["key"]
        team_b = {"Authorization": f"Bearer {self.other_key}"}
        self.other_model = "mock-other-" + secrets.token_hex(3)
        r = httpx.post(
            f"{origin}/v1/chat/completions",
            json={"model": self.other_model, "messages": [{"role": "user", "content": "secret plans of team b"}]},
            headers=team_b,
        )
        assert r.status_code == 200, r.text
        self.other_request = r.headers["x-request-id"]
        for i in range(3):
            r = httpx.post(
                f"{origin}/v1/chat/completions",
                json={
                    "model": "mock-1",
                    "messages": [{"role": "user", "content": f"hello console {i} " * 20}],
                    "metadata": {"tags": ["console-test"]},
                },
                headers=team_a,
            )
            assert r.status_code == 200, r.text
        r = httpx.post(
            f"{origin}/v1/chat/completions",
            json={
                "model": "mock-repeat",
                "messages": [{"role": "user", "content": FLAGGED_ANSWER}],
                "grounding": {"context": CONTEXT},
            },
            headers=team_a,
        )
        assert r.headers["x-promptgate-flagged"] == "true", r.headers
        self.flagged_request = r.headers["x-request-id"]
        # A prompt with two versions, `production` on the first.
        for temperature in (0.2, 0.7):
            r = httpx.post(
                f"{origin}/v1/prompts/{PROMPT}/versions",
                json={
                    "type": "chat",
                    "messages": [
                        {"role": "system", "content": "Answer from the docs."},
                        {"role": "user", "content": "{{question}}"},
                    ],
                    "config": {"model": "mock-1", "temperature": temperature},
                    "variables_schema": {"question": "string"},
                },
                headers=admin,
            )
            assert r.status_code == 201, r.text
        r = httpx.put(f"{origin}/v1/prompts/{PROMPT}/labels/production", json={"version": 1}, headers=admin)
        assert r.status_code == 200, r.text
        _wait_for(
            lambda: httpx.get(f"{origin}/v1/requests/{self.flagged_request}", headers=team_a).status_code == 200
            and httpx.get(f"{origin}/v1/requests/{self.other_request}", headers=team_b).status_code == 200,
            "the request records",
        )


@pytest.fixture(scope="module")
def traffic(gateway):
    return Traffic(gateway)


@pytest.fixture(scope="module")
def browser():
    _need_chromium()
    b = Browser()
    try:
        yield b
    finally:
        b.close()


def sign_in(browser: Browser, origin: str, key: str) -> None:
    browser.clear_cookies()
    assert browser.goto(f"{origin}/ui/costs") == 200  # the sign-in form, after a redirect
    assert browser.eval("location.pathname") == "/ui/login"
    browser.fill("#key", key)
    assert browser.click_and_wait("main form button[type=submit]") == 200
    assert browser.eval("location.pathname") == "/ui/costs", browser.text()


def shot(browser: Browser, name: str) -> None:
    where = screenshot_dir()
    if where is not None:
        browser.screenshot(where / f"{name}.png")


def labels_and_keyboard(browser: Browser) -> None:
    """Accessibility basics on the page shown: every visible input has a
    label, nothing is taken out of the tab order."""
    unlabelled = browser.eval(
        "[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
        ".filter(e => e.labels.length === 0).map(e => e.name)"
    )
    assert unlabelled == [], f"inputs without a label: {unlabelled}"
    assert browser.eval("document.querySelectorAll('[tabindex=\"-1\"]').length") == 0


def test_sign_in_and_see_the_cost_chart(gateway, traffic, browser):
    sign_in(browser, gateway.origin, gateway.key)
    bars = browser.eval("document.querySelectorAll('svg.chart rect.bar').length")
    assert bars > 0, browser.text()
    assert "mock-1" in browser.text()
    labels_and_keyboard(browser)
    shot(browser, "costs")
    session = [c for c in browser.cookies() if c["name"] == "pg_session"]
    assert session and session[0]["httpOnly"] and session[0]["sameSite"] == "Strict"
    assert gateway.key not in session[0]["value"]
    # The CSV of the same report.
    r = httpx.get(f"{gateway.origin}/ui/costs.csv", cookies={"pg_session": session[0]["value"]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.text.splitlines()[0].startswith("day,model,requests")


def test_every_control_is_reachable_by_keyboard(gateway, traffic, browser):
    browser.clear_cookies()
    browser.goto(f"{gateway.origin}/ui/login")
    browser.eval("document.activeElement.blur()")
    reached = []
    for _ in range(6):
        browser.press_tab()
        reached.append(browser.eval("document.activeElement.id || document.activeElement.tagName"))
    assert "key" in reached and "BUTTON" in reached, reached
    # Sign in with the keyboard alone.
    browser.eval("document.getElementById('key').focus()")
    browser.type_text(gateway.key)
    assert browser.press_enter() == 200
    assert browser.eval("location.pathname") == "/ui/costs"


def test_open_a_prompt_diff(gateway, traffic, browser):
    sign_in(browser, gateway.origin, gateway.key)
    name = urllib.parse.quote(PROMPT, safe="")
    assert browser.goto(f"{gateway.origin}/ui/prompts") == 200
    assert PROMPT in browser.text()
    shot(browser, "prompts")
    assert browser.goto(f"{gateway.origin}/ui/prompt?name={name}") == 200
    labels_and_keyboard(browser)
    assert browser.click_and_wait("form[action='/ui/prompt/diff'] button") == 200
    assert "1 changed line" in browser.eval("document.getElementById('diff-summary').innerText")
    assert "0.2" in browser.eval("document.querySelector('.diff .del').innerText")
    assert "0.7" in browser.eval("document.querySelector('.diff .ins').innerText")
    shot(browser, "diff")
    # Render preview with a variable.
    browser.goto(f"{gateway.origin}/ui/prompt?name={name}")
    browser.fill("#variables", '{"question": "Where is my refund?"}')
    assert browser.click_and_wait("form[action='/ui/prompt/render'] button") == 200
    assert "Where is my refund?" in browser.eval("document.getElementById('rendered').innerText")


def test_admin_promotes_a_label_and_the_api_sees_it(gateway, traffic, browser):
    admin = {"Authorization": f"Bearer {gateway.admin_key}"}
    label_url = f"{gateway.origin}/v1/prompts/{PROMPT}/labels/production"
    assert httpx.get(label_url, headers=admin).json()["version"] == 1
    sign_in(browser, gateway.origin, gateway.admin_key)
    browser.goto(f"{gateway.origin}/ui/prompt?name={urllib.parse.quote(PROMPT, safe='')}")
    shot(browser, "prompt")
    browser.eval("document.getElementById('promote-production').value = '2'")
    assert browser.click_and_wait("form[aria-label='Promote production'] button") == 200
    assert browser.eval("document.getElementById('new-target').innerText") == "v2"
    assert httpx.get(label_url, headers=admin).json()["version"] == 1, "nothing moves before the confirmation"
    shot(browser, "promote-confirm")
    assert browser.click_and_wait("#confirm") == 200
    assert "moved" in browser.text()
    assert httpx.get(label_url, headers=admin).json()["version"] == 2
    # Roll back, confirmed the same way.
    assert browser.click_and_wait("form[aria-label='Roll back production'] button") == 200
    assert browser.click_and_wait("#confirm") == 200
    assert httpx.get(label_url, headers=admin).json()["version"] == 1


def test_a_team_key_cannot_move_a_label(gateway, traffic, browser):
    sign_in(browser, gateway.origin, gateway.key)
    browser.goto(f"{gateway.origin}/ui/prompt?name={urllib.parse.quote(PROMPT, safe='')}")
    assert browser.eval("document.querySelectorAll(\"form[action='/ui/prompt/label']\").length") == 0


def test_flagged_answer_with_its_claim_highlighted(gateway, traffic, browser):
    sign_in(browser, gateway.origin, gateway.key)
    assert browser.goto(f"{gateway.origin}/ui/flagged?model=mock-repeat") == 200
    marked = browser.eval("[...document.querySelectorAll('.answer mark.claim')].map(m => m.innerText)")
    assert any("30 days" in m for m in marked), (marked, browser.text())
    evidence = browser.eval("[...document.querySelectorAll('td.evidence')].map(e => e.innerText)")
    assert any("Refunds" in e for e in evidence), evidence
    assert "number 30 not in context" in browser.text()
    shot(browser, "flagged")


def test_requests_search_and_one_record(gateway, traffic, browser):
    sign_in(browser, gateway.origin, gateway.key)
    assert browser.goto(f"{gateway.origin}/ui/requests?tag=console-test") == 200
    assert browser.eval("document.querySelectorAll('main tbody tr').length") == 3
    labels_and_keyboard(browser)
    shot(browser, "requests")
    assert browser.goto(f"{gateway.origin}/ui/requests/{traffic.flagged_request}") == 200
    assert "mock-repeat" in browser.text()
    assert browser.eval("document.querySelectorAll('mark.claim').length") > 0
    shot(browser, "request")


def test_rollout_report_with_intervals_verdicts_and_guard(gateway, traffic, browser):
    admin = {"Authorization": f"Bearer {gateway.admin_key}"}
    team_a = {"Authorization": f"Bearer {gateway.key}"}
    origin = gateway.origin
    label = "canary"
    r = httpx.put(
        f"{origin}/v1/prompts/{PROMPT}/labels/{label}",
        json={
            "rollout": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}],
            "guard": {"metric": "error_rate", "max_worse_by": 0.05, "min_samples": 1000},
        },
        headers=admin,
    )
    assert r.status_code == 200, r.text
    n = 100
    for i in range(n):
        r = httpx.post(
            f"{origin}/v1/chat/completions",
            json={
                "prompt": {"id": PROMPT, "label": label, "variables": {"question": f"question {i}"}},
                "metadata": {"user": f"user-{i}"},
            },
            headers=team_a,
        )
        assert r.status_code == 200, r.text
    report_url = f"{origin}/v1/prompts/{PROMPT}/report?label={label}"
    _wait_for(
        lambda: sum(v["requests"] for v in httpx.get(report_url, headers=team_a).json()["versions"]) == n,
        "the rollout's records",
    )
    sign_in(browser, origin, gateway.key)
    query = f"prompt={urllib.parse.quote(PROMPT, safe='')}&label={label}"
    assert browser.goto(f"{origin}/ui/rollouts?{query}") == 200
    text = browser.text()
    assert "v2 (candidate, weight 50" in text, text
    assert "error_rate: fires when worse than the baseline by more than 0.05" in text
    verdicts = browser.eval("[...document.querySelectorAll('[class^=verdict-]')].map(e => e.innerText)")
    assert verdicts and set(verdicts) <= {"better", "worse", "no_difference", "too_few_samples"}, verdicts
    intervals = browser.eval("[...document.querySelectorAll('main td')].filter(t => t.innerText.startsWith('[')).length")
    assert intervals > 0
    shot(browser, "rollouts")


def test_a_team_key_sees_only_its_team(gateway, traffic, browser):
    origin = gateway.origin
    team_a = {"Authorization": f"Bearer {gateway.key}"}
    # API
    assert httpx.get(f"{origin}/v1/requests/{traffic.other_request}", headers=team_a).status_code == 404
    assert httpx.get(f"{origin}/v1/costs?team={traffic.other_team}", headers=team_a).status_code == 404
    rows = httpx.get(f"{origin}/v1/costs?group_by=model", headers=team_a).json()["rows"]
    assert traffic.other_model not in {r["model"] for r in rows}
    # Pages
    sign_in(browser, origin, gateway.key)
    assert traffic.other_model not in browser.text()
    for path in ("/ui/requests", f"/ui/requests?model={traffic.other_model}", "/ui/flagged"):
        browser.goto(origin + path)
        assert traffic.other_request not in browser.text(), path
        assert traffic.other_model not in browser.eval("document.querySelector('tbody, main').innerText"), path
    assert browser.goto(f"{origin}/ui/requests/{traffic.other_request}") == 404
    assert browser.goto(f"{origin}/ui/costs?team={traffic.other_team}") == 404
    # The other team's own session does see it.
    sign_in(browser, origin, traffic.other_key)
    assert traffic.other_model in browser.text()


class _CrossSite(http.server.BaseHTTPRequestHandler):
    """Another origin's page that makes the browser post to the console."""

    target = ""

    def do_GET(self):
        body = (
            f"<!doctype html><form id=f method=post action='{self.target}'>"
            f"<input name=name value='{PROMPT}'><input name=label value=production>"
            "<input name=body value='{&quot;version&quot;: 2}'></form>"
            "<script>document.getElementById('f').submit()</script>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_cross_site_post_without_the_token_is_refused(gateway, traffic, browser):
    admin = {"Authorization": f"Bearer {gateway.admin_key}"}
    label_url = f"{gateway.origin}/v1/prompts/{PROMPT}/labels/production"
    before = httpx.get(label_url, headers=admin).json()["version"]
    sign_in(browser, gateway.origin, gateway.admin_key)
    _CrossSite.target = f"{gateway.origin}/ui/prompt/label/apply"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CrossSite)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        browser.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        _wait_for(lambda: browser.eval("location.href").startswith(gateway.origin), "the cross-site post")
        _wait_for(lambda: "Refused" in (browser.eval("document.title") or ""), "the refusal page")
    finally:
        server.shutdown()
    assert httpx.get(label_url, headers=admin).json()["version"] == before
    # The same post from our own origin with the session cookie but no token.
    session = next(c["value"] for c in browser.cookies() if c["name"] == "pg_session")
    r = httpx.post(
        _CrossSite.target,
        data={"name": PROMPT, "label": "production", "body": '{"version": 2}'},
        cookies={"pg_session": session},
    )
    assert r.status_code == 403, r.text
    r = httpx.post(
        _CrossSite.target,
        data={"name": PROMPT, "label": "production", "body": '{"version": 2}', "csrf": "0" * 32},
        cookies={"pg_session": session},
    )
    assert r.status_code == 403, r.text
    assert httpx.get(label_url, headers=admin).json()["version"] == before

"""XSS in Chromium: every payload of tests/hardening/xss_payloads.py goes through every text field a
citizen or a staff member can fill (the filing form, Open311, notes, reasons, answers, ratings,
saved-search names, search queries), then every page that shows them is opened in headless
Chromium, as the staff roles and as the citizen.

Passing means: no payload ran (``window.__xss`` unset, no dialog, no request to /xss-beacon), no
Content-Security-Policy violation was reported (an injected element would trigger one), and the
same holds with the CSP *bypassed*, which proves the escaping itself and not only the policy.
"""
from __future__ import annotations

import re

import httpx
import pytest

from tests.hardening.server import Server
from tests.hardening.xss_payloads import PAYLOADS

pytestmark = pytest.mark.browser

WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
    e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sample || '')));
"""


def _csrf(client: httpx.Client) -> str:
    if "ms_csrf" not in client.cookies:
        client.get("/login")
    return client.cookies["ms_csrf"]


def _file(client: httpx.Client, payload: str, n: int) -> tuple[str, str]:
    data = {
        "appeal_type": "投诉", "category": "urban", "consent": "1",
        "title": f"{payload[:80]} 噪音{n}",
        "description": f"小区楼下烧烤店每天营业到凌晨，噪音很大，严重影响休息。第{n}号。{payload}",
        "district": payload[:100], "street": payload[:100], "community": payload[:100], "place_text": payload,
        "name": payload[:50], "phone": f"1380013{n:04d}", "csrf_token": _csrf(client),
    }
    response = client.post("/file", data=data)
    assert response.status_code == 201, response.text[:2000]
    number = re.search(r'id="tracking-number">([^<]+)<', response.text).group(1)
    code = re.search(r'id="query-code">([^<]+)<', response.text).group(1)
    return number, code


def _case_id(client: httpx.Client, token: str, number: str) -> int:
    for case in client.get("/api/v1/cases", params={"limit": 1000}, headers=token).json():
        if case["tracking_number"] == number:
            return case["id"]
    raise AssertionError(f"case {number} not listed")


@pytest.fixture
def hostile_server(populated, tmp_path):
    settings, built = populated
    server = Server(settings, tmp_path / "serve.log", MINSHENG_INTAKE_RATE_LIMIT="100000").start()
    yield server, built
    server.stop()


def _plant(base: str, built) -> dict[str, list]:
    """File the payloads and act on the cases as staff and citizen; returns what to open."""
    bearer = {name: {"Authorization": f"Bearer {built.api_token(name)}"} for name in built.users}
    receipts = []
    with httpx.Client(base_url=base, timeout=60) as citizen:
        for n, payload in enumerate(PAYLOADS):
            receipts.append(_file(citizen, payload, n))
        for n, payload in enumerate(PAYLOADS[:6]):
            r = citizen.post("/open311/v2/requests.json", json={
                "service_code": "environment", "title": payload[:80], "first_name": payload[:20],
                "last_name": payload[:20], "address_string": payload,
                "description": f"河边工厂夜里排放刺鼻气体，第{n}次反映。{payload}"})
            assert r.status_code == 201, r.text
    with httpx.Client(base_url=base, timeout=60) as staff:
        ids = [_case_id(staff, bearer["dispatcher"], number) for number, _ in receipts]
        act = lambda who, case_id, action, **params: staff.post(  # noqa: E731
            f"/api/v1/cases/{case_id}/actions/{action}", json=params, headers=bearer[who])
        for case_id, payload in zip(ids[:8], PAYLOADS):
            for step in (act("dispatcher", case_id, "accept"),
                         act("dispatcher", case_id, "assign", department_code="housing", note=payload),
                         act("dept_a", case_id, "sign"),
                         act("dept_a", case_id, "answer", body=f"<p>已经派人到现场处理完毕，感谢反映。</p>{payload}")):
                assert step.status_code == 200, step.text
        for case_id, payload in zip(ids[8:12], PAYLOADS[8:]):
            assert act("dispatcher", case_id, "reject", reason=payload).status_code == 200
        saved = staff.post("/api/v1/search/saved", json={"name": PAYLOADS[0][:100], "params": {"q": "噪音"}},
                           headers=bearer["analyst"])
        assert saved.status_code in (201, 400), saved.text
    with httpx.Client(base_url=base, timeout=60) as citizen:
        for (number, code), payload in zip(receipts[:4], PAYLOADS):
            citizen.post(f"/track/{number}/rate", data={"code": code, "rating": "unsatisfied", "reason_code": "other",
                                                        "comment": payload, "csrf_token": _csrf(citizen)})
    staff_pages = ["/console/dispatch", "/console/supervise", "/console/department", "/inbox", "/search?q=噪音",
                   "/search?q=" + PAYLOADS[0], "/search?q=" + PAYLOADS[2], "/hot-topics", "/alerts", "/dashboard",
                   "/api/v1/cases?limit=1000", "/open311/v2/requests.json?limit=200"]
    cases = {"dispatcher": ids, "dept_a": ids[:8], "supervisor": ids[:4] + ids[8:10], "analyst": ids[:2],
             "admin": ids[10:12]}  # each case page once per role that works on it
    return {"receipts": receipts, "staff_pages": staff_pages,
            "case_pages": {who: [f"/console/cases/{i}" for i in chosen] for who, chosen in cases.items()}}


def _check(page, where: str, problems: list[str], beacons: list[str]) -> None:
    page.wait_for_timeout(50)
    ran = page.evaluate("() => window.__xss || null")
    csp = page.evaluate("() => window.__csp || []")
    if ran:
        problems.append(f"payload ran on {where}")
    if csp:
        problems.append(f"CSP violation on {where}: {csp[:3]}")
    if beacons:
        problems.append(f"payload fetched {beacons[:2]} on {where}")
        beacons.clear()


def _sweep(browser, base: str, built, planted, bypass_csp: bool) -> tuple[int, list[str]]:
    problems: list[str] = []
    opened = 0
    for who in ("citizen", "dispatcher", "dept_a", "supervisor", "analyst", "admin"):
        context = browser.new_context(bypass_csp=bypass_csp, java_script_enabled=True)
        context.add_init_script(WATCH)
        beacons: list[str] = []
        context.on("request", lambda r: beacons.append(r.url) if "xss-beacon" in r.url or "evil.example" in r.url else None)
        page = context.new_page()
        page.on("dialog", lambda d: (problems.append(f"dialog {d.message!r} as {who}"), d.dismiss()))
        if who == "citizen":
            for number, code in planted["receipts"]:
                page.goto(base + "/track")
                page.fill("input[name=number]", number)
                page.fill("input[name=code]", code)
                page.click("form[action='/track'] button[type=submit], form[action='/track'] input[type=submit]")
                page.wait_for_load_state()
                opened += 1
                _check(page, f"tracking page of {number}", problems, beacons)
            page.goto(base + "/")
            opened += 1
            _check(page, "the filing form", problems, beacons)
        else:
            context.add_cookies([{"name": "ms_session", "value": built.session_cookie(who), "url": base}])
            for path in planted["staff_pages"] + planted["case_pages"][who]:
                page.goto(base + path)
                opened += 1
                _check(page, f"{path} as {who}", problems, beacons)
        context.close()
    return opened, problems


def test_no_payload_runs_in_chromium(hostile_server, browser, record_property):
    server, built = hostile_server
    planted = _plant(server.base, built)
    headers = httpx.get(server.base + "/", timeout=30).headers
    csp = headers["content-security-policy"]
    script_src = next(p for p in csp.split(";") if p.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, csp
    # The detector itself works: an unescaped payload on a page without CSP is caught.
    probe = browser.new_context(bypass_csp=True)
    page = probe.new_page()
    page.set_content(PAYLOADS[1])
    page.wait_for_timeout(100)
    assert page.evaluate("() => window.__xss") == 1
    probe.close()
    opened, problems = _sweep(browser, server.base, built, planted, bypass_csp=False)
    opened_bypass, problems_bypass = _sweep(browser, server.base, built, planted, bypass_csp=True)
    record_property("xss_payloads", len(PAYLOADS))
    print(f"\nXSS: {len(PAYLOADS)} payloads through every text field; {opened + opened_bypass} page loads "
          f"(with and without CSP)")
    assert not problems, "\n".join(problems)
    assert not problems_bypass, "with the CSP bypassed (escaping alone):\n" + "\n".join(problems_bypass)

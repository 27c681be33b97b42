"""Under the Content-Security-Policy the pages' own scripts (static/js) still run in a real
browser, and nothing on them is refused by the policy."""

from __future__ import annotations

from typing import Any

from conftest import PASSWORD, ROLE_PHONES
from tests.test_browser import browser, page, pytestmark  # noqa: F401

_WATCH = (
    "window.__csp = [];"
    "document.addEventListener('securitypolicyviolation',"
    " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
)


def _login(pg: Any, base: str, role: str) -> None:
    pg.goto(f"{base}/accounts/login/")
    pg.fill("#id_username", ROLE_PHONES[role])
    pg.fill("#id_password", PASSWORD)
    pg.click("#login-form button[type=submit]")
    pg.wait_for_url(f"{base}/")


def test_page_scripts_run_under_the_policy(
    live_server: Any,
    cast: Any,
    browser: Any,  # noqa: F811
    page: Any,  # noqa: F811
) -> None:
    from huzhu.timebank.tests.test_merchants import give_points, make_merchant

    merchant = make_merchant(cast, name="阳光便利店")
    give_points(cast.resident, 10_00)
    base = live_server.url
    page.add_init_script(_WATCH)
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))

    _login(page, base, "resident")
    resp = page.goto(f"{base}/timebank/pay/")
    assert resp is not None and "script-src 'self'" in resp.headers["content-security-policy"]
    start = int(page.locator("#seconds").inner_text())
    # static/js/timebank.js counts down and shows the copy button (clipboard: localhost)
    # (predicates are functions: a string expression would need eval, which the policy forbids)
    page.wait_for_function(
        "s => Number(document.getElementById('seconds').textContent) < s", arg=start
    )
    assert page.locator("#copy-code").is_visible()
    assert page.evaluate("window.__csp") == []
    assert not [m for m in console if "Content Security Policy" in m]

    # an inline script is refused: the policy is in force, not just sent
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__inline = 1'; document.body.appendChild(s); }"
    )
    page.wait_for_function("() => window.__csp.length > 0")
    assert page.evaluate("window.__inline") is None
    assert page.evaluate("window.__csp") == ["script-src-elem inline"]

    till = browser.new_context().new_page()
    till.add_init_script(_WATCH)
    till_console: list[str] = []
    till.on("console", lambda m: till_console.append(m.text))
    _login(till, base, "merchant")
    till.goto(f"{base}/timebank/merchants/{merchant.pk}/redeem/")
    # the till's script writes its status (headless chromium has no BarcodeDetector)
    till.wait_for_function("() => document.getElementById('scan-status').textContent.length > 0")
    assert "付款码" in till.locator("#scan-status").inner_text()
    assert till.evaluate("window.__csp") == []
    till.context.close()
    assert not [m for m in till_console if "Content Security Policy" in m]

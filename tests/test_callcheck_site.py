"""can-i where people meet it: the chain on each Auto Scaling action page, the worked troubleshooting page (a real
check run at build time), /api/can-i in `iamkb serve` and its OpenAPI entry, and the form in a real browser
(served: a verdict; opened as files: the command line instead)."""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_site

from iamkb.callcheck import Checker, load_rules
from iamkb.serve import make_server
from iamkb.site import urls
from iamkb.site.callchain import CAN_I, TROUBLESHOOTING, chain_rows, worked_input
from iamkb.site.pages import Site

# The site test's fixtures (the KB as the site sees it, the built site) and its page reader.
kb = test_site.kb
site = test_site.site
page_html = test_site.page_html


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def test_each_covered_action_page_shows_its_whole_chain(kb: Site, site: Path) -> None:
    rules = kb.data.call_rules
    for operation, spec in rules["operations"].items():
        doc = kb.action_pages[f"action:{operation}"]
        page = page_html(site, doc)
        assert 'id="call-chain"' in page, operation
        # (inline code carries a break opportunity after each ':' and '/', iamkb.site.markdown.code_span)
        table = page.split('id="call-chain"', 1)[1].split("</table>", 1)[0].replace("<wbr>", "")
        rows = table.split("<tbody>", 1)[1].count("<tr")
        assert rows == len(chain_rows(kb, doc, operation)) > 0, operation
        every = [spec["operation_rule"], *spec["rules"]]
        for rule in every:
            assert f"<code>{rule['action']}</code>" in table, (operation, rule["id"])
        if any(r["docs_name"] for r in every):
            assert "the docs write <code>ec2:RunInstance</code>" in table
    other = _text(page_html(site, kb.action_pages["action:autoscaling:DeletePolicy"]))
    assert "lists nothing for this action: a call needs autoscaling:DeletePolicy itself" in other
    assert 'id="call-chain"' not in page_html(site, kb.action_pages["action:ec2:RunInstances"])


def test_the_troubleshooting_page_shows_a_real_check_of_its_call(kb: Site, site: Path) -> None:
    obj = worked_input(kb)
    result = Checker(load_rules()).check(obj)
    page = _text(page_html(site, TROUBLESHOOTING))
    missing = [r for r in result["requirements"] if r["decision"] != "Allowed"]
    assert result["verdict"] == "Denied" and missing
    assert f"Verdict: Denied, {len(missing)} of {len(result['requirements'])} permissions missing:" in page
    for req in missing:
        assert f"{req['action']} on {req['resource']}: {req['reason']}" in page
    assert json.dumps(result["fix"], indent=2) in page
    assert "the check says Allowed" in page
    assert "iamkb can-i call.json" in page


def test_the_can_i_page_holds_a_form_with_a_checkable_call(kb: Site, site: Path) -> None:
    page = page_html(site, CAN_I)
    textarea = re.search(r'<textarea class="iamkb-can-i-input"[^>]*>(.*?)</textarea>', page, re.S)
    assert textarea, "no form"
    obj = json.loads(html.unescape(textarea.group(1)))
    assert Checker(load_rules()).check(obj)["verdict"] == "Denied"
    assert "iamkb can-i call.json" in _text(page)


# ------------------------------------------------------------------------------------------------ the API


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[tuple[str, int]]:
    srv = make_server(site, port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address[:2]
    srv.shutdown()
    srv.server_close()


def _post(server, path: str, body: str) -> tuple[int, object]:
    import http.client

    conn = http.client.HTTPConnection(*server, timeout=30)
    conn.request("POST", path, body=body.encode(), headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = json.loads(resp.read())
    conn.close()
    return resp.status, data


def test_api_can_i_answers_as_the_cli_does(kb: Site, server) -> None:
    obj = worked_input(kb)
    status, data = _post(server, "/api/can-i", json.dumps(obj))
    assert status == 200 and data == Checker(load_rules()).check(obj)
    status, data = _post(server, "/api/can-i", json.dumps([obj, obj]))
    assert status == 200 and [d["verdict"] for d in data] == ["Denied", "Denied"]
    bad = {**obj, "call": {**obj["call"], "input": {**obj["call"]["input"], "MinSize": "one"}}}
    status, data = _post(server, "/api/can-i", json.dumps(bad))
    assert status == 400 and data == {"error": "request body: call.input.MinSize: must be an integer, got a string"}


def test_openapi_documents_can_i(server) -> None:
    import http.client

    conn = http.client.HTTPConnection(*server, timeout=30)
    conn.request("GET", "/api/openapi.json")
    spec = json.loads(conn.getresponse().read())
    conn.close()
    entry = spec["paths"]["/api/can-i"]["post"]
    schema = entry["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/CanI"}
    assert spec["components"]["schemas"]["CanI"]["required"] == ["verdict", "requirements", "fix"]


# ---------------------------------------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def browser(chromium_path: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.mark.browser
def test_the_form_checks_through_serve_and_explains_the_cli_without_it(browser, server, site: Path, kb: Site) -> None:
    ctx = browser.new_context()
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    host, port = server
    page.goto(f"http://{host}:{port}/{urls.url_of(CAN_I)}")
    page.locator(".iamkb-can-i button").click()
    verdict = page.locator(".iamkb-can-i-verdict")
    verdict.wait_for(timeout=20000)
    result = Checker(load_rules()).check(worked_input(kb))
    missing = sum(r["decision"] != "Allowed" for r in result["requirements"])
    assert verdict.inner_text() == f"Denied: {len(result['requirements'])} permissions needed, {missing} missing"
    assert page.locator(".iamkb-can-i-missing").count() == missing
    page.goto((site / urls.url_of(CAN_I) / "index.html").as_uri())
    page.locator(".iamkb-can-i button").click()
    assert "iamkb can-i call.json" in page.locator(".iamkb-can-i-output").inner_text()
    ctx.close()
    assert errors == []

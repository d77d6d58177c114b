"""The playground: example pages and the "Try a policy" page run iamkb.policy itself in the browser (Pyodide).

The browser tests serve the built site with `python -m http.server` (a static host: no API) and drive Debian's
chromium with Playwright; they compare what the page's engine answers with what the CLI's functions answer for
every scenario and every example policy of the KB. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import copy
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import checked_page, need, served_statically, uncovered_modules

from iamkb.errors import InputError
from iamkb.examples import substitute_placeholders
from iamkb.policy import inpage
from iamkb.policy.evaluate import evaluate
from iamkb.policy.lint import check_text
from iamkb.policy.simulate import simulate_text
from iamkb.serve import make_server
from iamkb.site import build as site_build
from iamkb.site import playground, urls
from iamkb.site.build import cached_site
from iamkb.site.data import load_site_data
from iamkb.site.pages import Site

DELETE_ID = "example:autoscaling/security_iam_id-based-policy-examples#policy-example-delete-policy:1"
ENGINE_URLS = ("assets/iamkb/pyodide/", "assets/iamkb/engine")


@pytest.fixture(scope="module")
def kb(kb_build: Path) -> Site:
    return Site(load_site_data())


@pytest.fixture(scope="module")
def catalog(kb: Site) -> dict[str, dict]:
    return kb.catalog


def all_scenarios(catalog: dict[str, dict]) -> list[dict]:
    return [s["scenario"] for e in catalog.values() for s in e.get("scenarios") or []]


def lint_document_of(policy: dict) -> dict:
    """The document the catalog lints for an example (a bare statement inside a one-statement policy)."""
    return policy if "Statement" in policy else {"Version": "2012-10-17", "Statement": [policy]}


# ------------------------------------------------------------------------------------- engine (no browser)


def test_the_engine_zip_holds_every_module_the_page_imports() -> None:
    assert uncovered_modules("iamkb.policy.inpage", playground.ENGINE_CODE) == set()


def test_the_engine_zip_is_deterministic_and_complete(kb: Site) -> None:
    one, two = playground._zip(playground.engine_entries(kb)), playground._zip(playground.engine_entries(kb))
    assert one == two
    names = set(zipfile.ZipFile(io.BytesIO(one)).namelist())
    assert {"iamkb/policy/inpage.py", "iamkb/policy/lint/runner.py", "iamkb/refdata.py", "rapidfuzz/fuzz_py.py",
            "rapidfuzz/process_py.py", "rapidfuzz/LICENSE"} <= names
    assert not [n for n in names if n.endswith(".so")]
    for name in ("actions", "condition_keys", "resource_types", "services"):
        held = json.loads(zipfile.ZipFile(io.BytesIO(one)).read(f"kb/build/{name}.json"))
        assert held == getattr(kb.data, name)


def test_inpage_answers_what_the_cli_prints() -> None:
    scenario = {"request": {"principal": "arn:aws:iam::123456789012:user/alice", "action": "autoscaling:DeletePolicy",
                            "resource": "*"},
                "identityPolicies": [{"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "autoscaling:DeletePolicy", "Resource": "*"}]}]}
    text = json.dumps(scenario)
    assert json.loads(inpage.simulate(text)) == {"result": simulate_text(text, "x")}
    assert json.loads(inpage.simulate(json.dumps([scenario, scenario]))) == {"result": simulate_text(
        json.dumps([scenario, scenario]), "x")}
    typo = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "autoscaling:DeletePolicyy", "Resource": "*"}]})
    answer = json.loads(inpage.check(typo))
    assert answer == {"result": check_text(typo, "x")}
    assert "did you mean autoscaling:DeletePolicy" in answer["result"]["findings"][0]["message"]
    # bad input: the CLI's one-line message, naming what the page passed
    assert json.loads(inpage.simulate("{not json")) == {
        "error": "scenario: malformed JSON at line 1, column 2: Expecting property name enclosed in double quotes"}
    assert json.loads(inpage.check("[1]"))["error"].startswith("policy: (top): a policy must be a JSON object")


# --------------------------------------------------------------------------------------- pages (no browser)


def test_every_catalog_slot_holds_the_example_policy(catalog: dict[str, dict]) -> None:
    slots = 0
    for entry in catalog.values():
        policy = substitute_placeholders(entry["policy"], entry.get("substitutions") or {})
        for s in entry.get("scenarios") or []:
            for slot in s["slots"]:
                value = s["scenario"]
                for key in slot:
                    value = value[key]
                assert value == policy, (entry["id"], s["name"], slot)
                slots += 1
    files = Path(__file__).resolve().parent.parent / "kb" / "scenarios"
    assert slots == sum(json.dumps(s).count('"$EXAMPLE"') for f in files.glob("*.json")
                        for s in json.loads(f.read_text(encoding="utf-8"))["scenarios"])


def test_the_editor_starts_with_the_policy_the_scenarios_run(kb: Site, catalog: dict[str, dict]) -> None:
    verbatim = 0
    for ex in kb.data.examples:
        entry = catalog.get(ex["id"], {})
        if ex.get("policy") is None or (ex["format"] == "fragment" and not entry.get("scenarios")):
            assert playground.example_section(kb, ex, entry) == ""
            continue
        assert 'class="iamkb-playground"' in playground.example_section(kb, ex, entry)
        subs = entry.get("substitutions") or {}
        text = playground.editor_text(ex, subs)
        assert json.loads(text) == substitute_placeholders(ex["policy"], subs), ex["id"]
        verbatim += text == (ex.get("code") or "").strip()
    # the docs' own text (their lines) wherever it is the policy as run: no placeholders, valid JSON
    assert verbatim == sum(1 for ex in kb.data.examples if ex.get("policy") is not None
                           and not catalog.get(ex["id"], {}).get("substitutions") and _parses_to(ex))


def _parses_to(ex: dict) -> bool:
    try:
        return json.loads(ex.get("code") or "") == ex["policy"]
    except ValueError:
        return False


def test_exercises_pass_with_the_docs_policy_and_fail_with_allow_all(kb: Site, catalog: dict[str, dict]) -> None:
    items = playground.exercises(kb)
    assert [i["id"] for i in items] == [i["id"] for i in kb.data.exercises]
    allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    for item in items:
        docs = catalog[item["from"]]["policy"]
        for s in item["scenarios"]:
            decision = evaluate(playground.exercise_scenario(docs, s["request"])).decision
            assert playground.passes(s["expected"], decision), (item["id"], s["name"], decision)
        failing = [s for s in item["scenarios"]
                   if not playground.passes(s["expected"], evaluate(playground.exercise_scenario(
                       allow_all, s["request"])).decision)]
        assert len(failing) == sum(s["expected"] != "Allowed" for s in item["scenarios"]) > 0


@pytest.mark.parametrize("change,where", [
    (lambda e: e[0].update({"from": "example:nope:1"}), r"exercises\[0\]\.from"),
    (lambda e: e[1]["scenarios"][2].update({"expected": "Maybe"}), r"exercises\[1\]\.scenarios\[2\]\.expected"),
    (lambda e: e[2]["scenarios"][0]["request"].pop("action"), r"exercises\[2\]\.scenarios\[0\]"),
    (lambda e: e[1].update({"id": e[0]["id"]}), r"exercises\[1\]\.id"),
])
def test_a_bad_exercise_names_its_place(kb: Site, change, where: str) -> None:
    bad = Site(copy.deepcopy(kb.data))
    change(bad.data.exercises)
    with pytest.raises(InputError, match=where):
        playground.exercises(bad)


def test_the_builder_offers_each_actions_formats_and_keys(kb: Site) -> None:
    data = json.loads(playground.builder_data(kb))
    covered = {s["prefix"] for s in kb.data.services if s.get("covered")}
    assert len(data["actions"]) == sum(1 for a in kb.data.actions if a["service"] in covered)
    group = data["actions"]["autoscaling:DeletePolicy"]
    assert [data["types"][i] for i in group["t"]] == [["autoScalingGroup", (
        "arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:${GroupId}:autoScalingGroupName/"
        "${GroupFriendlyName}")]]
    assert "autoscaling:ResourceTag/${TagKey}" in group["k"]
    assert group["u"] == urls.url_of(urls.action_path("autoscaling:DeletePolicy"))
    assert data["actions"]["autoscaling:DescribeAutoScalingGroups"]["t"] == []
    assert "aws:PrincipalTag/${TagKey}" in data["global"]


def test_the_site_hash_follows_the_shipped_npm_packages(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "pyodide").mkdir()
    (tmp_path / "pyodide" / "package.json").write_text('{"version": "1.0.0"}')
    monkeypatch.setenv("IAMKB_NODE_MODULES", str(tmp_path))
    before = site_build.site_inputs()
    assert before["node_modules"] == "pyodide==1.0.0;prism-code-editor==absent"
    (tmp_path / "pyodide" / "package.json").write_text('{"version": "1.0.1"}')
    assert [k for k, v in site_build.site_inputs().items() if v != before[k]] == ["node_modules"]


def test_without_node_modules_the_site_ships_no_engine_or_editor(kb: Site, tmp_path: Path) -> None:
    assert set(playground.assets(kb, tmp_path)) == {f"{playground.ASSETS}/builder.json"}


def test_the_built_site_links_the_try_page_as_the_last_step(kb: Site) -> None:
    site = cached_site()
    start = (site / "start-here" / "index.html").read_text(encoding="utf-8")
    steps = start.split("<ol>")[1].split("</ol>")[0]
    assert steps.count("<li>") == len(kb.data.reading_path)
    assert steps.rsplit("<li>", 1)[1].count('href="../try/"') == 1
    page = (site / "try" / "index.html").read_text(encoding="utf-8")
    assert page.count('class="iamkb-exercise"') == len(kb.data.exercises)
    if playground.node_package(playground.PYODIDE):
        manifest = json.loads((site / playground.ASSETS / "engine.json").read_text())
        assert (site / playground.ASSETS / manifest["engine"]).is_file()


# ------------------------------------------------------------------------------------------------ browser


@pytest.fixture(scope="module")
def static_url(kb: Site) -> Iterator[str]:
    """The built site behind `python -m http.server`: a static host, no API."""
    need(playground.node_package(playground.PYODIDE) is not None,
         "the npm package pyodide is missing (run `make node`): the site has no in-page engine")
    with served_statically(cached_site()) as url:
        yield url


@pytest.fixture
def page(browser, request):
    with checked_page(browser, request.node.name, full_page=True) as pg:
        yield pg


def example_url(base: str, example_id: str) -> str:
    return base + urls.url_of(urls.example_path(example_id))


def open_playground(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(".iamkb-playground[data-ready]", state="attached", timeout=20000)


def editor(page):
    return page.locator(".iamkb-playground textarea").first


def run(page) -> None:
    """Press Run and wait until every request has its answer (the button is disabled while it runs)."""
    page.locator(".iamkb-run").first.click()
    page.wait_for_function("() => !document.querySelector('.iamkb-run').disabled", timeout=90000)
    assert page.locator(".iamkb-engine-help").count() == 0, page.locator(".iamkb-status").inner_text()
    assert page.locator(".iamkb-engine-label").count() == 1


def cards(page):
    return page.locator(".iamkb-card")


def test_an_edit_flips_a_scenario_and_the_explanation_says_why(page, static_url: str, catalog) -> None:
    entry = catalog[DELETE_ID]
    open_playground(page, example_url(static_url, DELETE_ID))
    assert not [u for u in page.requested if any(e in u for e in ENGINE_URLS)]  # nothing until the first Run
    assert cards(page).count() == len(entry["scenarios"])
    run(page)
    assert [u for u in page.requested if "pyodide.asm.wasm" in u]
    for i, s in enumerate(entry["scenarios"]):
        assert cards(page).nth(i).locator(".iamkb-decision strong").inner_text() == s["actual"]
    test_card = next(i for i, s in enumerate(entry["scenarios"])
                     if s["scenario"]["request"].get("context") == {"autoscaling:ResourceTag/environment": "test"})
    assert "Matches what the docs' sentence says" in cards(page).nth(test_card).locator(".iamkb-verdict").inner_text()
    text = editor(page).input_value()
    assert '"production"' in text
    editor(page).fill(text.replace('"production"', '"test"'))
    run(page)
    card = cards(page).nth(test_card)
    assert card.locator(".iamkb-decision strong").inner_text() == "ExplicitlyDenied"
    assert "No longer what the docs' sentence says: it expects Allowed" in card.locator(".iamkb-verdict").inner_text()
    decisive = card.locator(".iamkb-decisive").inner_text()
    assert "(Deny): applies" in decisive
    assert 'StringEquals autoscaling:ResourceTag/environment ["test"] vs request "test": yes' in decisive
    # the decisive statement's line in the editor
    line = int(card.locator(".iamkb-decisive .iamkb-jump").inner_text().split()[1])
    assert '"Effect": "Deny"' in editor(page).input_value().splitlines()[line - 1] or \
        editor(page).input_value().splitlines()[line - 1].strip() == "{"
    # an edited request flips too: the production card with the edited context value
    prod = next(i for i, s in enumerate(entry["scenarios"]) if s["expected"] == "ExplicitlyDenied")
    value = cards(page).nth(prod).locator(".iamkb-context-value").first
    value.fill("staging")
    run(page)
    assert cards(page).nth(prod).locator(".iamkb-decision strong").inner_text() == "Allowed"


def test_a_typo_in_an_action_is_found_at_its_line_and_cleared_when_fixed(page, static_url: str) -> None:
    open_playground(page, example_url(static_url, DELETE_ID))
    text = editor(page).input_value()
    lines = text.splitlines()
    target = next(n for n, ln in enumerate(lines, 1) if "autoscaling:DeletePolicy" in ln)
    editor(page).fill(text.replace("autoscaling:DeletePolicy", "autoscaling:DeletePolicyy", 1))
    finding = page.locator(".iamkb-finding", has_text="UNKNOWN_ACTION")
    finding.first.wait_for(timeout=90000)
    assert finding.count() == 1
    assert "did you mean autoscaling:DeletePolicy" in finding.inner_text()
    assert finding.locator(".iamkb-jump").inner_text() == f"line {target}"
    assert page.locator(".iamkb-editor .iamkb-line-error").count() == 1
    editor(page).fill(text)
    page.locator(".iamkb-lint-none").wait_for(timeout=30000)
    assert page.locator(".iamkb-finding").count() == 0
    assert page.locator(".iamkb-editor .iamkb-line-error").count() == 0


def test_the_shared_link_restores_the_edited_policy_and_request(page, browser, static_url: str) -> None:
    open_playground(page, example_url(static_url, DELETE_ID))
    edited = editor(page).input_value().replace('"production"', '"prod"')
    editor(page).fill(edited)
    cards(page).first.locator(".iamkb-input").nth(1).fill("autoscaling:PutScalingPolicy")
    page.locator(".iamkb-share").click()
    # the link is made asynchronously (the state is compressed first): wait for it, as a reader does
    page.wait_for_function("() => (document.querySelector('.iamkb-share-link') || {}).value?.includes('#play=')",
                           timeout=30000)
    link = page.locator(".iamkb-share-link").input_value()
    assert "#play=" in link and page.url == link
    other = browser.new_context().new_page()
    try:
        open_playground(other, link)
        assert editor(other).input_value() == edited
        assert cards(other).first.locator(".iamkb-input").nth(1).input_value() == "autoscaling:PutScalingPolicy"
        other.locator(".iamkb-reset").click()
        assert '"production"' in editor(other).input_value() and "#play=" not in other.url
    finally:
        other.context.close()


def test_an_exercise_passes_a_right_policy_and_fails_a_wrong_one_with_the_reason(page, static_url: str, kb,
                                                                              catalog) -> None:
    items = playground.exercises(kb)
    item = next(i for i in items if i["id"] == "protect-production-policies")
    open_playground(page, static_url + "try/")
    box = page.locator(f'.iamkb-exercise[data-exercise="{item["id"]}"]')
    right = catalog[item["from"]]["policy"]
    editor(page).fill(json.dumps(right, indent=4))
    box.locator(".iamkb-exercise-check").click()
    verdict = box.locator(".iamkb-exercise-verdict")
    verdict.wait_for(timeout=90000)
    assert verdict.inner_text() == (f"Passed: all {len(item['scenarios'])} requests are decided as the docs' "
                                    "example decides them.")
    # allowing without the deny: the production request is allowed, and the page says which and why
    wrong = {"Version": "2012-10-17", "Statement": [right["Statement"][0]]}
    editor(page).fill(json.dumps(wrong, indent=4))
    box.locator(".iamkb-exercise-check").click()
    page.wait_for_function("b => b.querySelector('.iamkb-exercise-verdict').textContent.startsWith('Not yet')",
                           arg=box.element_handle(), timeout=30000)
    failures = box.locator(".iamkb-exercise-failures li")
    expected_failures = [s for s in item["scenarios"]
                         if not playground.passes(s["expected"], evaluate(
                             playground.exercise_scenario(wrong, s["request"])).decision)]
    assert failures.count() == len(expected_failures) == 1
    text = failures.first.inner_text()
    assert expected_failures[0]["name"] in text and "expected ExplicitlyDenied, your policy gives Allowed" in text
    assert "denies the action if the Auto Scaling group being acted upon has the tag" in text


def test_the_page_engine_decides_every_scenario_as_iamkb_simulate(page, static_url: str, catalog) -> None:
    scenarios = all_scenarios(catalog)
    open_playground(page, static_url + "try/")
    got = page.evaluate("async list => { const out = []; for (const s of list) out.push(await window.iamkb.simulate(s));"
                        " return out; }", scenarios)
    want = [simulate_text(json.dumps(s), "scenario") for s in scenarios]
    assert len(got) == len(want) == sum(len(e.get("scenarios") or []) for e in catalog.values())
    mismatched = [i for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
    assert mismatched == [], f"{len(mismatched)} differ, first: {scenarios[mismatched[0]]['request']}"


def test_the_page_engine_checks_every_example_policy_as_iamkb_check(page, static_url: str, catalog) -> None:
    docs = [lint_document_of(e["policy"]) for e in catalog.values() if isinstance(e.get("policy"), dict)]
    # and each with a misspelt first action, so "did you mean" (RapidFuzz's Python code in the page) is compared
    typos = []
    for doc in docs:
        st = doc["Statement"][0] if isinstance(doc["Statement"], list) else doc["Statement"]
        if isinstance(st, dict) and isinstance(st.get("Action"), str) and ":" in st["Action"]:
            bad = copy.deepcopy(doc)
            (bad["Statement"][0] if isinstance(bad["Statement"], list) else bad["Statement"])["Action"] += "x"
            typos.append(bad)
    policies = docs + typos
    open_playground(page, static_url + "try/")
    got = page.evaluate("async list => { const out = []; for (const p of list) out.push(await window.iamkb.check(p));"
                        " return out; }", policies)
    want = [check_text(json.dumps(p), "policy") for p in policies]
    assert len(got) == len(policies) == len(docs) + len(typos) and len(typos) > 10
    assert [i for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w] == []
    assert sum(any(f["code"] == "UNKNOWN_ACTION" for f in w["findings"]) for w in want[len(docs):]) > 10


def test_bad_input_rejects_with_the_clis_message(page, static_url: str) -> None:
    open_playground(page, static_url + "try/")
    message = page.evaluate("() => window.iamkb.simulate('{not json').then(() => 'resolved', e => e.message)")
    assert message == "scenario: malformed JSON at line 1, column 2: Expecting property name enclosed in double quotes"


def test_a_static_copy_without_the_engine_says_how_to_get_one(page, static_url: str) -> None:
    page.route("**/assets/iamkb/engine.json", lambda route: route.fulfill(status=404, body="not found"))
    open_playground(page, example_url(static_url, DELETE_ID))
    page.locator(".iamkb-run").click()
    help_box = page.locator(".iamkb-status .iamkb-engine-help")
    help_box.wait_for(timeout=30000)
    assert "built without the in-page engine" in help_box.inner_text()
    assert "make node, then make site" in help_box.inner_text()


def test_from_a_file_the_page_explains_and_keeps_a_plain_editor(page) -> None:
    need(playground.node_package(playground.PYODIDE) is not None, "the npm package pyodide is missing")
    open_playground(page, (cached_site() / urls.url_of(urls.example_path(DELETE_ID)) / "index.html").as_uri())
    assert page.locator(".iamkb-plain-textarea").count() == 1  # no module imports from file://
    page.locator(".iamkb-run").click()
    help_box = page.locator(".iamkb-status .iamkb-engine-help")
    help_box.wait_for(timeout=30000)
    assert "opened from a file" in help_box.inner_text()


def test_behind_iamkb_serve_a_copy_without_the_engine_runs_through_the_api(page, kb, catalog) -> None:
    srv = make_server(cached_site(), port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{srv.server_address[1]}/"
        page.route("**/assets/iamkb/engine.json", lambda route: route.fulfill(status=404, body="not found"))
        open_playground(page, example_url(base, DELETE_ID))
        run(page)
        assert page.locator(".iamkb-engine-label").inner_text() == \
            "Decided by the iamkb server (/api/simulate and /api/check)."
        assert [c.locator(".iamkb-decision strong").inner_text() for c in cards(page).all()] == \
            [s["actual"] for s in catalog[DELETE_ID]["scenarios"]]
        assert not [u for u in page.requested if "pyodide" in u]
    finally:
        srv.shutdown()
        srv.server_close()

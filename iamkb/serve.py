"""`iamkb serve`: the built site and a small JSON API on 127.0.0.1, from the standard library's HTTP server.

API (described by /api/openapi.json):
    GET|POST /api/search  q, kind, guide, limit   -> iamkb.search.search(...)
    GET|POST /api/ask     q (or "question")       -> iamkb.search.ask(...), each result with its site_url
    POST     /api/simulate  one scenario or a list -> {"decision","explain"} (or a list)
    POST     /api/check     a policy document      -> {"findings": [...]}
    POST     /api/can-i     one call or a list     -> {"verdict","requirements","fix",...} (or a list)
Bad input is a 4xx with {"error": one line}; bodies and queries have size limits; only files under the site
folder are served (the resolved path must stay inside it). Static files are served as they are: the site's
search and the Ask box work offline against this server.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import sys
import threading
from dataclasses import dataclass, field
from functools import cached_property
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from iamkb import paths
from iamkb.errors import InputError

MAX_BODY = 256 * 1024  # a policy document is at most 6,144 characters in IAM; scenario lists can be larger
MAX_QUERY = 1000  # characters of a question or search query
MAX_URL = 4096
API_VERSION = "1"
API_HEADER = "X-Iamkb-Api"  # on every static file: a page served with it has the API beside it


class ApiError(Exception):
    """An HTTP error with a one-line message for the JSON body."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class IndexProgress:
    """How the background index build goes (`build_index_in_background`), read by /api/ask to say that the
    lexical ranking answered and why."""

    building: bool = False
    done: int = 0
    total: int = 0
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def update(self, **values: Any) -> None:
        with self.lock:
            for k, v in values.items():
                setattr(self, k, v)

    def to_json(self) -> dict[str, Any] | None:
        with self.lock:
            if self.building:
                return {"vectors": "building", "embedded": self.done, "total": self.total}
            if self.error:
                return {"vectors": "failed", "error": self.error}
            return None


@dataclass
class App:
    """What the handler serves: the site folder and the API's shared, read-only state."""

    site_dir: Path
    index_dir: Path | None = None
    search_lock: threading.Lock = field(default_factory=threading.Lock)
    index_progress: IndexProgress = field(default_factory=IndexProgress)

    @property
    def site_root(self) -> Path:
        """The site folder, resolved on every request: `iamkb site` swaps a new generation in behind a symlink
        (iamkb.atomic), and a request reads its files from one generation, the one current when it arrived."""
        return self.site_dir.resolve()

    @cached_property
    def reference(self) -> Any:
        """The reference tables for `check`, loaded once (None when the KB has none: name checks skipped)."""
        from iamkb.policy.lint import default_reference

        return default_reference()

    @cached_property
    def site_links(self) -> Any:
        """id -> site page, to give API results a link into this site (None without a KB)."""
        from iamkb.site.data import load_site_data
        from iamkb.site.pages import Site

        try:
            return Site(load_site_data())
        except InputError:
            return None

    # ------------------------------------------------------------------------------------------ API

    def _with_links(self, result: dict) -> dict:
        """site_url on each result and citation: its page in the served site, as an absolute path (the site is
        served at the root)."""
        from iamkb.site import urls

        return urls.with_site_urls(result, self.site_links.site_url, "/") if self.site_links else result

    def search(self, params: dict[str, Any]) -> dict:
        from iamkb import search

        query = _text_param(params, "q", "query")
        limit = _int_param(params, "limit", 10)
        kind, guide = _opt_str(params, "kind"), _opt_str(params, "guide")
        with self.search_lock:
            return self._with_links(search.search(query, kind=kind, guide=guide, limit=limit, index=self.index_dir))

    def ask(self, params: dict[str, Any]) -> dict:
        from iamkb import search

        question = _text_param(params, "q", "question")
        limit = _int_param(params, "limit", 10)
        with self.search_lock:
            result = search.ask(question, index=self.index_dir)
        result["results"] = result.get("results", [])[:limit]
        pending = self.index_progress.to_json()
        if pending is not None:
            result["index"] = pending
        return self._with_links(result)

    def simulate(self, body: str) -> Any:
        from iamkb.policy.simulate import simulate_text

        return simulate_text(body, "request body")

    @cached_property
    def checker(self) -> Any:
        """The whole-call checker over the KB's call rules, loaded once."""
        from iamkb.callcheck import Checker, load_rules

        return Checker(load_rules())

    def can_i(self, body: str) -> Any:
        from iamkb.callcheck import check_text

        return check_text(body, "request body", self.checker)

    def check(self, body: str) -> dict:
        from iamkb.policy.lint import check_text

        return check_text(body, "request body", ref=self.reference, use_reference=self.reference is not None)


def _text_param(params: dict[str, Any], *names: str) -> str:
    for name in names:
        if name in params:
            value = params[name]
            if not isinstance(value, str):
                raise ApiError(HTTPStatus.BAD_REQUEST, f"'{name}' must be a string")
            if not value.strip():
                raise ApiError(HTTPStatus.BAD_REQUEST, f"'{name}' is empty")
            if len(value) > MAX_QUERY:
                raise ApiError(HTTPStatus.BAD_REQUEST, f"'{name}' is longer than {MAX_QUERY} characters")
            return value
    raise ApiError(HTTPStatus.BAD_REQUEST, f"missing parameter '{names[0]}'")


def _int_param(params: dict[str, Any], name: str, default: int) -> int:
    value = params.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ApiError(HTTPStatus.BAD_REQUEST, f"'{name}' must be an integer, got {value!r}") from None
    if isinstance(value, bool) or not 1 <= number <= 100:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"'{name}' must be between 1 and 100")
    return number


def _opt_str(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(HTTPStatus.BAD_REQUEST, f"'{name}' must be a string")
    return value


def openapi() -> dict:
    """The API's OpenAPI 3.1 description (served at /api/openapi.json)."""
    err = {"description": "bad input", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    query_params = [
        {"name": "q", "in": "query", "required": True, "schema": {"type": "string", "maxLength": MAX_QUERY}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}},
    ]
    results = {"description": "results, best first",
               "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Results"}}}}
    json_body = {"required": True, "content": {"application/json": {"schema": {"type": ["object", "array"]}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "iamkb API", "version": API_VERSION,
                 "description": "Search, ask, simulate, check and can-i over the Auto Scaling IAM knowledge "
                                "base."},
        "servers": [{"url": "/"}],
        "paths": {
            "/api/search": {"get": {"summary": "Full-text search", "parameters": [
                *query_params,
                {"name": "kind", "in": "query", "schema": {"type": "string", "enum": [
                    "section", "example", "action", "condition_key", "resource_type", "managed_policy"]}},
                {"name": "guide", "in": "query", "schema": {"type": "string", "enum": ["autoscaling", "iam", "reference"]}},
            ], "responses": {"200": results, "400": err}},
                "post": {"summary": "Full-text search (JSON body with the same fields)", "requestBody": json_body,
                         "responses": {"200": results, "400": err}}},
            "/api/ask": {"get": {"summary": "Answer a question with the sections it comes from",
                                 "parameters": query_params, "responses": {"200": results, "400": err}},
                         "post": {"summary": "Ask (JSON body {\"question\"})", "requestBody": json_body,
                                  "responses": {"200": results, "400": err}}},
            "/api/simulate": {"post": {"summary": "Evaluate a scenario (or a list) against its policies",
                                       "requestBody": json_body, "responses": {
                                           "200": {"description": "{\"decision\", \"explain\"} or a list of them"},
                                           "400": err, "413": err}}},
            "/api/check": {"post": {"summary": "Lint a policy document", "requestBody": json_body, "responses": {
                "200": {"description": "{\"findings\": [{\"code\",\"severity\",\"message\",\"path\"}]}"},
                "400": err, "413": err}}},
            "/api/can-i": {"post": {
                "summary": "Check a whole Auto Scaling call: every permission it needs, each decision, the fix",
                "description": "The body is what `iamkb can-i --json` reads: one call or a list, each {\"call\": "
                               "{\"action\", \"input\", \"region\", \"account\"}, \"launchTemplate\", "
                               "\"serviceLinkedRoleExists\", \"principal\", \"identityPolicies\", ...}.",
                "requestBody": json_body, "responses": {
                    "200": {"description": "what `iamkb can-i --json` prints (a list for a list)",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CanI"}}}},
                    "400": err, "413": err}}},
            "/api/openapi.json": {"get": {"summary": "This description",
                                          "responses": {"200": {"description": "OpenAPI 3.1"}}}},
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
            "CanI": {"type": "object", "required": ["verdict", "requirements", "fix"], "properties": {
                "verdict": {"enum": ["Allowed", "Denied"]},
                "requirements": {"type": "array", "items": {"type": "object", "required": [
                    "principal", "action", "resource", "reason", "source", "decision", "explain"], "properties": {
                    "principal": {"type": "string"}, "action": {"type": "string"}, "resource": {"type": "string"},
                    "reason": {"type": "string"}, "source": {"type": "string"},
                    "decision": {"enum": ["Allowed", "ExplicitlyDenied", "ImplicitlyDenied"]},
                    "explain": {"type": "array"}, "context": {"type": "object"}, "evaluation": {"type": "string"}}}},
                "fix": {"type": ["object", "null"], "description": "statements to add to the caller's "
                                                                   "identity-based policies"},
                "keyPolicyFix": {"type": ["object", "null"]}, "grantFix": {"type": ["array", "null"]},
                "fixVerified": {"type": ["boolean", "null"]}, "notes": {"type": "array"}}},
            "Results": {"type": "object", "properties": {
                "query": {"type": "string"}, "question": {"type": "string"}, "answer": {"type": "string"},
                "results": {"type": "array", "items": {"type": "object", "properties": {
                    "id": {"type": "string"}, "kind": {"type": "string"}, "title": {"type": "string"},
                    "url": {"type": "string"}, "site_url": {"type": "string"}, "score": {"type": "number"},
                    "snippet": {"type": "string"}}}},
                "citations": {"type": "array", "description": "ask: every id the answer's parts come from",
                              "items": {"type": "object", "properties": {
                                  "id": {"type": "string"}, "title": {"type": "string"}, "url": {"type": "string"},
                                  "site_url": {"type": "string"}}}},
                "parts": {"type": "object", "description": "ask: what the answer says, as data (declined, facts, "
                                                           "quote, example, summary, closest)"},
                "corrections": {"type": "object", "description": "ask: each misspelt word -> its correction"},
                "ranking": {"enum": ["full", "lexical"]}}},
        }},
    }


ROUTES = {  # path -> (methods, App method, reads a JSON body)
    "/api/search": ("GET", "POST"),
    "/api/ask": ("GET", "POST"),
    "/api/simulate": ("POST",),
    "/api/check": ("POST",),
    "/api/can-i": ("POST",),
    "/api/openapi.json": ("GET",),
}


class Handler(BaseHTTPRequestHandler):
    """Static files under the site folder, and the API under /api/."""

    server_version = "iamkb"
    protocol_version = "HTTP/1.1"

    @property
    def app(self) -> App:
        return self.server.app  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    # --------------------------------------------------------------------------------------- dispatch

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _other(self) -> None:
        self._dispatch(self.command)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _other

    def _dispatch(self, method: str) -> None:
        try:
            if len(self.path) > MAX_URL:
                raise ApiError(HTTPStatus.REQUEST_URI_TOO_LONG, f"URL longer than {MAX_URL} characters")
            parts = urlsplit(self.path)
            if parts.path == "/api" or parts.path.startswith("/api/"):
                self._api(method, parts.path, parts.query)
            elif method in ("GET", "HEAD"):
                self._static(parts.path, head=method == "HEAD")
            else:
                raise ApiError(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} is not allowed on static files")
        except ApiError as err:
            self._json(err.status, {"error": str(err)})
        except InputError as err:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(err)})
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as err:  # a bug: one line to the client, never a traceback
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"internal error: {type(err).__name__}"})

    def _api(self, method: str, path: str, query: str) -> None:
        methods = ROUTES.get(path)
        if methods is None:
            raise ApiError(HTTPStatus.NOT_FOUND, f"no API endpoint {path} (see /api/openapi.json)")
        if method not in methods and not (method == "HEAD" and "GET" in methods):
            self._allow = ", ".join(methods)
            raise ApiError(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} is not allowed on {path} ({self._allow})")
        if path == "/api/openapi.json":
            self._json(HTTPStatus.OK, openapi())
            return
        name = path.removeprefix("/api/").replace("-", "_")
        if method == "POST":
            body = self._body()
            if name in ("search", "ask"):
                params = _json_object(body)
                result = getattr(self.app, name)(params)
            else:
                result = getattr(self.app, name)(body)
        else:
            params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
            result = getattr(self.app, name)(params)
        self._json(HTTPStatus.OK, result)

    def _body(self) -> str:
        length = self.headers.get("Content-Length")
        if length is None:
            raise ApiError(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
        try:
            size = int(length)
        except ValueError:
            raise ApiError(HTTPStatus.BAD_REQUEST, "Content-Length is not a number") from None
        if size < 0:
            raise ApiError(HTTPStatus.BAD_REQUEST, "Content-Length is negative")
        if size > MAX_BODY:
            self.close_connection = True  # the unread body would otherwise be read as the next request
            raise ApiError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body of {size} bytes is over the {MAX_BODY}-byte limit")
        raw = self.rfile.read(size)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ApiError(HTTPStatus.BAD_REQUEST, f"body is not UTF-8 (byte {err.start})") from None
        if not text.strip():
            raise ApiError(HTTPStatus.BAD_REQUEST, "the body is empty: send JSON")
        return text

    # ------------------------------------------------------------------------------------------ static

    def _static(self, url_path: str, *, head: bool) -> None:
        path = self._resolve(url_path)
        if path is None:
            self._not_found(head)
            return
        if path.is_dir():
            if not url_path.endswith("/"):
                self.send_response(HTTPStatus.MOVED_PERMANENTLY)
                self.send_header("Location", url_path + "/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path = path / "index.html"
            if not path.is_file():
                self._not_found(head)
                return
        self._file(HTTPStatus.OK, path, head=head)

    def _resolve(self, url_path: str) -> Path | None:
        """The file a URL names, or None when it is missing or outside the site folder."""
        rel = unquote(url_path)
        if "\x00" in rel or "\\" in rel:
            return None
        root = self.app.site_root
        candidate = (root / rel.lstrip("/")).resolve()
        if not candidate.is_relative_to(root) or not candidate.exists():
            return None
        return candidate

    def _not_found(self, head: bool) -> None:
        page = self.app.site_root / "404.html"
        if page.is_file():
            self._file(HTTPStatus.NOT_FOUND, page, head=head)
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def _file(self, status: HTTPStatus, path: Path, *, head: bool) -> None:
        data = path.read_bytes()
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
            ctype += "; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header(API_HEADER, API_VERSION)  # the site's pages ask /api/ when they see it (search/box.js)
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _json(self, status: HTTPStatus, payload: Any) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if status == HTTPStatus.METHOD_NOT_ALLOWED and getattr(self, "_allow", None):
            self.send_header("Allow", self._allow)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _json_object(body: str) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except json.JSONDecodeError as err:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"request body: malformed JSON at line {err.lineno} column "
                                               f"{err.colno}: {err.msg}") from None
    if not isinstance(value, dict):
        raise ApiError(HTTPStatus.BAD_REQUEST, "request body: expected a JSON object")
    return value


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 drops SYNs under 20 concurrent clients (a 1 s retransmit)

    def __init__(self, address: tuple[str, int], app: App, verbose: bool = False) -> None:
        self.app = app
        self.verbose = verbose
        super().__init__(address, Handler)


def make_server(site_dir: Path, host: str = "127.0.0.1", port: int = 8000, index_dir: Path | None = None,
                verbose: bool = False) -> Server:
    if not (site_dir / "index.html").is_file():
        raise InputError("no built site here (run `make site`)", where=str(site_dir))
    try:
        return Server((host, port), App(site_dir, index_dir), verbose)
    except OSError as err:
        raise InputError(f"cannot listen on {host}:{port}: {err.strerror}", where="--port") from None


# ---------------------------------------------------------------------------------------------------- CLI


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (0 picks a free one; default 8000)")
    parser.add_argument("--site", type=Path, default=None, help="the built site folder (default site/)")
    parser.add_argument("--index", type=Path, default=None,
                        help="serve this search index as it is (default: kb/index, built or brought up to date "
                             "in the background while serving)")
    parser.add_argument("--no-index-build", action="store_true",
                        help="serve kb/index as it is: do not build a missing or out-of-date one")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument("--json", action="store_true", help='print {"url", "site"} as JSON when listening')


def build_index_in_background(progress: IndexProgress, site: Path | None = None) -> threading.Thread | None:
    """Serve first, then finish: bring kb/index up to date without keeping the site waiting. With no index at
    all, a lexical one is built first (seconds, in the foreground), so search and ask answer from the start;
    then the whole index (the semantic vectors take minutes the first time) is built in a thread and swapped in,
    and the next question uses it, with no restart. A stale index is served until its successor is ready. Then
    the in-page search data of the served `site` is exported again from it (with its static token vectors, which
    a site built before the vectors lacks), so a copy of the site taken afterwards ranks as well as it can.
    Returns the thread (None when the index is current)."""
    from iamkb.search.build import index_state, update_index
    from iamkb.search.semantic import progress_printer
    from iamkb.site import search as search_data

    state = index_state()
    if state == "current":
        return None
    if state == "missing":
        print("iamkb serve: building the lexical index first (seconds)", file=sys.stderr, flush=True)
        update_index(lexical=True)

    say = progress_printer(lambda done, total: f"iamkb serve: semantic vectors for {done:,} of {total:,} texts "
                                               "(until they are ready, ask ranks lexically)")

    def report(done: int, total: int) -> None:
        progress.update(done=done, total=total)
        say(done, total)

    def run() -> None:
        try:
            update_index(progress=report)
            print("iamkb serve: the index is complete; ask now uses the full ranking", file=sys.stderr, flush=True)
            if site is not None and (site / search_data.DATA).exists():
                search_data.write_data(site / search_data.DATA)
            progress.update(building=False)
        except Exception as err:  # keep serving the index there is; say why the full one is missing
            progress.update(building=False, error=f"{type(err).__name__}: {err}")
            print(f"iamkb serve: the index build failed ({type(err).__name__}: {err}); serving the index there is",
                  file=sys.stderr, flush=True)

    progress.update(building=True)
    thread = threading.Thread(target=run, name="index-build", daemon=True)
    thread.start()
    return thread


def run_serve(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise InputError(f"port {args.port} is out of range 0-65535", where="--port")
    site_dir = args.site or paths.site_dir()
    server = make_server(site_dir, args.host, args.port, args.index, args.verbose)
    if args.index is None and not args.no_index_build:
        build_index_in_background(server.app.index_progress, site_dir)
    host, port = server.server_address[:2]
    url = f"http://{host}:{port}/"
    if args.json:
        print(json.dumps({"url": url, "site": str(site_dir)}), flush=True)
    else:
        print(f"serving {site_dir} and the API at {url} (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0

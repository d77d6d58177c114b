// window.iamkb.simulate(scenario) and window.iamkb.check(policy): the project's own Python policy engine
// (iamkb.policy) answering in the page, as `iamkb simulate --json` and `iamkb check --json` answer in a terminal.
//
// Nothing is loaded until the first call. Then, in this order:
//   1. a site built with the npm package `pyodide` installed: CPython compiled to WebAssembly, from
//      assets/iamkb/pyodide/, plus the engine's zip (iamkb.policy, RapidFuzz's Python code, the reference tables
//      lint reads); about 6.5 MB compressed, once, then cached by the browser. The same engine on a static host
//      and behind `iamkb serve`;
//   2. a site built without it but served by `iamkb serve`: its /api/simulate and /api/check;
//   3. otherwise the promise is rejected with an Error whose `code` is "file" (opened from file://, where
//      browsers do not load WebAssembly modules) or "missing" (a static copy built without the package), and
//      whose message says how to get a copy that runs.
// Each call resolves to exactly what the CLI prints as JSON (a list in gives a list out), or rejects with the
// one-line message the CLI prints with exit 2. Progress is announced as "iamkb:engine" events on document.
(function () {
  "use strict";

  var script = document.currentScript;
  var ROOT = new URL("..", script && script.src ? script.src : location.href); // this file is javascripts/engine.js
  var ASSETS = new URL("assets/iamkb/", ROOT);
  var chosen = null;

  var HELP = {
    file: "This page was opened from a file, and browsers do not load the WebAssembly engine into file:// pages. " +
      "Serve the site folder over HTTP (python3 -m http.server --directory site 8000, then open " +
      "http://127.0.0.1:8000/), or run the same engine in a terminal: iamkb check and iamkb simulate.",
    missing: "This copy of the site was built without the in-page engine (the npm package pyodide was not " +
      "installed when it was built) and is not served by iamkb serve. Rebuild it with npm available " +
      "(make node, then make site) for a static copy that runs policies, or serve it with iamkb serve; in a " +
      "terminal, iamkb check and iamkb simulate run the same engine."
  };

  function announce(state, detail) {
    document.dispatchEvent(new CustomEvent("iamkb:engine", { detail: Object.assign({ state: state }, detail) }));
  }

  function unavailable(code) {
    var err = new Error(HELP[code]);
    err.code = code;
    return err;
  }

  async function fromServer() {
    try {
      var resp = await fetch("/api/openapi.json", { headers: { Accept: "application/json" } });
      var type = resp.headers.get("Content-Type") || "";
      if (!resp.ok || type.indexOf("application/json") === -1) return null;
      var spec = await resp.json();
      if (!spec.paths || !spec.paths["/api/simulate"] || !spec.paths["/api/check"]) return null;
    } catch (e) {
      return null;
    }
    async function post(path, text) {
      var resp = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: text });
      var body = await resp.json();
      if (!resp.ok) throw new Error(body.error || "HTTP " + resp.status);
      return body;
    }
    return {
      kind: "api", label: "the iamkb server (/api/simulate and /api/check)",
      simulate: function (text) { return post("/api/simulate", text); },
      check: function (text) { return post("/api/check", text); }
    };
  }

  async function inPage() {
    var resp;
    try {
      resp = await fetch(new URL("engine.json", ASSETS), { cache: "no-cache" });
    } catch (e) {
      return null;
    }
    if (!resp.ok) return null;
    var manifest = await resp.json();
    announce("loading", { label: "Pyodide " + manifest.pyodide });
    var base = new URL("pyodide/", ASSETS);
    var loaded = await Promise.all([
      import(new URL("pyodide.mjs", base).href),
      fetch(new URL(manifest.engine, ASSETS)).then(function (r) {
        if (!r.ok) throw new Error("cannot load the engine: HTTP " + r.status + " for " + manifest.engine);
        return r.arrayBuffer();
      })
    ]);
    var py = await loaded[0].loadPyodide({ indexURL: base.href, stdout: function () {}, stderr: function () {} });
    py.unpackArchive(loaded[1], "zip", { extractDir: "/iamkb" });
    py.runPython("import os, sys\nsys.path.insert(0, '/iamkb')\nos.environ['IAMKB_BUILD'] = " +
      JSON.stringify("/iamkb/" + manifest.build));
    var mod = py.pyimport(manifest.module);
    var version = py.runPython("import sys; sys.version.split()[0]");
    function call(fn, text) {
      var out = JSON.parse(fn(text));
      if ("error" in out) return Promise.reject(new Error(out.error));
      return Promise.resolve(out.result);
    }
    return {
      kind: "pyodide", label: "Python " + version + " in this page (Pyodide " + manifest.pyodide + ")",
      simulate: function (text) { return call(mod.simulate, text); },
      check: function (text) { return call(mod.check, text); }
    };
  }

  async function pick() {
    if (location.protocol === "file:") throw unavailable("file");
    var found = (await inPage()) || (await fromServer());
    if (!found) throw unavailable("missing");
    return found;
  }

  function engine() {
    if (!chosen) {
      chosen = pick().then(function (e) {
        announce("ready", { kind: e.kind, label: e.label });
        return e;
      }, function (err) {
        chosen = null; // a later call tries again (the network may be back)
        announce("failed", { code: err.code || "error", message: err.message });
        throw err;
      });
    }
    return chosen;
  }

  function asText(value) {
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  // The playground's script and styles (playground.js, playground.css) load only on the pages that have one,
  // the example pages and Try a policy; every other page carries this file alone.
  var uiRequested = false;

  function mountPlayground() {
    if (uiRequested || !document.querySelector(".iamkb-playground")) return;
    uiRequested = true;
    var css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = new URL("stylesheets/playground.css", ROOT).href;
    document.head.appendChild(css);
    var js = document.createElement("script");
    js.src = new URL("javascripts/playground.js", ROOT).href;
    document.head.appendChild(js);
  }

  // Material's document$ fires on every instant navigation; set up on load as well (idempotent).
  if (typeof document$ !== "undefined") document$.subscribe(mountPlayground);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountPlayground);
  else mountPlayground();

  window.iamkb = Object.assign(window.iamkb || {}, {
    // A scenario (DESIGN.md's shape; a list gives a list) -> what `iamkb simulate --json` prints.
    simulate: function (scenario) {
      return engine().then(function (e) { return e.simulate(asText(scenario)); });
    },
    // A policy document (an object, or its JSON text) -> what `iamkb check --json` prints.
    check: function (policy) {
      return engine().then(function (e) { return e.check(asText(policy)); });
    },
    // Which engine answers: {kind: "api" | "pyodide", label}; loads it if it is not loaded yet.
    engine: function () {
      return engine().then(function (e) { return { kind: e.kind, label: e.label }; });
    }
  });
})();

// The playground of the example pages and the "Try a policy" page (iamkb/site/playground.py writes its data):
// the policy in an editor with line numbers and highlighting (prism-code-editor when the site ships it, else a
// plain textarea), `iamkb check`'s findings under it as you type, each pointing at its line, the requests as
// editable fields, Run (window.iamkb.simulate, docs/javascripts/engine.js) with each decision, its reasons and
// whether it still matches the docs' sentence, Reset, and a link that carries the edit in the URL fragment.
// On the "Try a policy" page the request fields offer the reference's names, and the exercises run the
// reader's policy against their hidden scenarios. engine.js loads this file on the pages that have a playground.
(function () {
  "use strict";

  var script = document.currentScript;
  var ROOT = new URL("..", script && script.src ? script.src : location.href);
  var EDITOR = new URL("assets/iamkb/editor/", ROOT);
  var BUILDER = new URL("assets/iamkb/builder.json", ROOT);
  var LINT_DELAY = 400; // ms after the last keystroke
  var SHARE = "play=";
  var playgrounds = [];

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function button(label, cls, onClick) {
    var b = el("button", "md-button " + (cls || ""), label);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  // ------------------------------------------------------------------------------------------ JSON paths

  // {JSON path as iamkb's findings write it (Statement[0].Condition.StringEquals.aws:SourceArn): line} for
  // every member and element of the text; a malformed tail is left out (what parsed so far is kept).
  function pathLines(text) {
    var lines = {}, i = 0, line = 1, n = text.length;
    function space() {
      while (i < n) {
        var c = text[i];
        if (c === "\n") { line++; i++; } else if (c === " " || c === "\t" || c === "\r") i++; else break;
      }
    }
    function string() {
      var start = i++;
      while (i < n && text[i] !== "\"") {
        if (text[i] === "\\") i++;
        else if (text[i] === "\n") line++;
        i++;
      }
      i++;
      try { return JSON.parse(text.slice(start, i)); } catch (e) { return text.slice(start + 1, i - 1); }
    }
    function value(path, at) {
      space();
      if (!(path in lines)) lines[path] = at === undefined ? line : at;
      var c = text[i];
      if (c === "{") {
        i++; space();
        if (text[i] === "}") { i++; return true; }
        while (i < n) {
          space();
          if (text[i] !== "\"") return false;
          var keyLine = line, key = string();
          space();
          if (text[i] !== ":") return false;
          i++;
          if (!value(path ? path + "." + key : key, keyLine)) return false;
          space();
          if (text[i] === ",") { i++; continue; }
          if (text[i] === "}") { i++; return true; }
          return false;
        }
        return false;
      }
      if (c === "[") {
        i++; space();
        if (text[i] === "]") { i++; return true; }
        for (var k = 0; i < n; k++) {
          if (!value(path + "[" + k + "]")) return false;
          space();
          if (text[i] === ",") { i++; continue; }
          if (text[i] === "]") { i++; return true; }
          return false;
        }
        return false;
      }
      if (c === "\"") { string(); return true; }
      var m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 40));
      if (!m) return false;
      i += m[0].length;
      return true;
    }
    value("");
    return lines;
  }

  // The line of a finding's path: its own, else its closest enclosing element's, else line 1.
  function lineOf(lines, path) {
    if (path in lines) return lines[path];
    var best = "", found = 1;
    Object.keys(lines).forEach(function (p) {
      if (p.length > best.length && path.indexOf(p) === 0 && (path[p.length] === "." || path[p.length] === "[")) {
        best = p;
        found = lines[p];
      }
    });
    return found;
  }

  function pathOf(parts) {
    return parts.reduce(function (acc, p) {
      return typeof p === "number" ? acc + "[" + p + "]" : (acc ? acc + "." + p : p);
    }, "");
  }

  // ---------------------------------------------------------------------------------------------- editor

  var editorModules = null;

  function loadEditor() {
    if (location.protocol === "file:") return Promise.resolve(null); // browsers block module imports there
    if (!editorModules) {
      editorModules = Promise.all(["index.js", "prism/languages/json.js", "languages/json.js",
        "extensions/commands/index.js"].map(function (f) { return import(new URL(f, EDITOR).href); }))
        .then(function (mods) {
          var link = el("link");
          link.rel = "stylesheet";
          link.href = new URL("layout.css", EDITOR).href;
          document.head.appendChild(link);
          return { createEditor: mods[0].createEditor, commands: mods[3].defaultCommands };
        })
        .catch(function () { return null; }); // a site built without npm: the plain textarea
    }
    return editorModules;
  }

  // {value, setValue(text), mark({line: severity}), goTo(line), textarea}
  function makeEditor(host, text, onChange, mods) {
    var marks = {};
    if (mods) {
      var ed = null;
      var paint = function () {
        if (!ed) return; // the editor calls onUpdate once while it is created
        for (var i = 1; i < ed.lines.length; i++) {
          var sev = marks[i];
          ed.lines[i].classList.toggle("iamkb-line-error", sev === "error");
          ed.lines[i].classList.toggle("iamkb-line-warning", sev === "warning" || sev === "info");
        }
      };
      ed = mods.createEditor(host, { language: "json", value: text, lineNumbers: true, tabSize: 4,
        wordWrap: false, onUpdate: function (v) { if (ed) { paint(); onChange(v); } } }, mods.commands());
      ed.textarea.setAttribute("aria-label", "Policy (JSON)");
      ed.textarea.setAttribute("spellcheck", "false");
      var keys = el("p", "iamkb-editor-keys", "Tab indents; Ctrl+M (Ctrl+Shift+M on a Mac) switches Tab to moving " +
        "the focus out of the editor, and back.");
      keys.id = "iamkb-editor-keys-" + (++uid);
      host.appendChild(keys);
      ed.textarea.setAttribute("aria-describedby", keys.id);
      return {
        get value() { return ed.value; },
        setValue: function (t) { ed.setOptions({ value: t }); },
        mark: function (m) { marks = m; paint(); },
        goTo: function (line) { selectLine(ed.textarea, line); },
        textarea: ed.textarea
      };
    }
    var wrap = el("div", "iamkb-plain-editor");
    var gutter = el("div", "iamkb-plain-gutter");
    gutter.setAttribute("aria-hidden", "true");
    var ta = el("textarea", "iamkb-plain-textarea");
    ta.value = text;
    ta.spellcheck = false;
    ta.setAttribute("aria-label", "Policy (JSON)");
    var numbers = function () {
      var count = ta.value.split("\n").length;
      ta.rows = Math.min(Math.max(count, 6), 40);
      gutter.replaceChildren();
      for (var i = 1; i <= count; i++) gutter.appendChild(el("div", marks[i] ? "iamkb-line-" + marks[i] : "", String(i)));
    };
    ta.addEventListener("input", function () { numbers(); onChange(ta.value); });
    ta.addEventListener("scroll", function () { gutter.scrollTop = ta.scrollTop; });
    wrap.appendChild(gutter);
    wrap.appendChild(ta);
    host.appendChild(wrap);
    numbers();
    return {
      get value() { return ta.value; },
      setValue: function (t) { ta.value = t; numbers(); onChange(t); },
      mark: function (m) { marks = m; numbers(); },
      goTo: function (line) { selectLine(ta, line); },
      textarea: ta
    };
  }

  function selectLine(ta, line) {
    var lines = ta.value.split("\n"), start = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
    ta.focus();
    ta.setSelectionRange(start, start + (lines[line - 1] || "").length);
    ta.dispatchEvent(new Event("selectionchange"));
  }

  // ------------------------------------------------------------------------------------------ share link

  function b64url(bytes) {
    var s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function unb64url(text) {
    var s = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    var out = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }

  async function pipe(bytes, stream) {
    var out = new Response(new Blob([bytes]).stream().pipeThrough(stream));
    return new Uint8Array(await out.arrayBuffer());
  }

  // "z" + deflated JSON where the browser has CompressionStream, else "j" + plain JSON, both base64url.
  async function encodeState(state) {
    var bytes = new TextEncoder().encode(JSON.stringify(state));
    if (typeof CompressionStream === "function") return "z" + b64url(await pipe(bytes, new CompressionStream("deflate-raw")));
    return "j" + b64url(bytes);
  }

  async function decodeState(text) {
    var bytes = unb64url(text.slice(1));
    if (text[0] === "z") bytes = await pipe(bytes, new DecompressionStream("deflate-raw"));
    return JSON.parse(new TextDecoder().decode(bytes));
  }

  // --------------------------------------------------------------------------------------- request builder

  var builder = null;

  function loadBuilder() {
    if (!builder) {
      builder = fetch(BUILDER).then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      }).then(function (data) {
        var list = el("datalist");
        list.id = "iamkb-actions";
        Object.keys(data.actions).forEach(function (name) {
          var o = el("option");
          o.value = name;
          list.appendChild(o);
        });
        document.body.appendChild(list);
        return data;
      }).catch(function () { builder = null; return null; });
    }
    return builder;
  }

  function fillList(list, values) {
    list.replaceChildren();
    values.forEach(function (v) {
      var o = el("option");
      o.value = v;
      list.appendChild(o);
    });
  }

  // The resource formats and condition keys the chosen action supports, offered in the card's fields.
  function offerFor(card) {
    loadBuilder().then(function (data) {
      if (!data || !document.contains(card.root)) return;
      var info = data.actions[card.action.value.trim()] ||
        data.actions[Object.keys(data.actions).find(function (k) { return k.toLowerCase() === card.action.value.trim().toLowerCase(); })];
      card.hint.replaceChildren();
      if (!info) {
        fillList(card.resources, []);
        fillList(card.keys, data.global);
        return;
      }
      var formats = info.t.map(function (i) { return data.types[i][1]; });
      fillList(card.resources, formats.length ? formats : ["*"]);
      fillList(card.keys, info.k.concat(data.global.filter(function (k) { return info.k.indexOf(k) === -1; })));
      var parts = [info.a || "", formats.length ? "resource types: " + info.t.map(function (i) { return data.types[i][0]; }).join(", ")
        : "no resource-level permissions: the resource is *"];
      card.hint.appendChild(document.createTextNode(parts.filter(Boolean).join(" · ") + " "));
      if (info.u) {
        var a = el("a", "", "reference");
        a.href = new URL(info.u, ROOT).href;
        card.hint.appendChild(a);
      }
    });
  }

  // ---------------------------------------------------------------------------------------- request cards

  var uid = 0;

  function field(label, value, listId) {
    var wrap = el("label", "iamkb-field");
    wrap.appendChild(el("span", "iamkb-field-label", label));
    var input = el("input", "iamkb-input");
    input.type = "text";
    input.value = value || "";
    input.spellcheck = false;
    input.autocomplete = "off";
    if (listId) input.setAttribute("list", listId);
    wrap.appendChild(input);
    return { wrap: wrap, input: input };
  }

  function shown(v) {
    return typeof v === "string" ? v : JSON.stringify(v);
  }

  // A context value as typed: a JSON list or a quoted string is read as JSON, anything else is a string;
  // an unchanged value keeps its type.
  function typed(text, original) {
    if (original !== undefined && text === shown(original)) return original;
    var t = text.trim();
    if (t[0] === "[" || t[0] === "\"") {
      try { return JSON.parse(t); } catch (e) { return text; }
    }
    return text;
  }

  function contextRow(card, key, value) {
    var row = el("div", "iamkb-context-row");
    var k = el("input", "iamkb-input iamkb-context-key");
    k.type = "text";
    k.value = key || "";
    k.placeholder = "condition key";
    k.setAttribute("aria-label", "Condition key");
    k.setAttribute("list", card.keys.id);
    k.spellcheck = false;
    var v = el("input", "iamkb-input iamkb-context-value");
    v.type = "text";
    v.value = value === undefined ? "" : shown(value);
    v.placeholder = "value (a list as [\"a\", \"b\"])";
    v.setAttribute("aria-label", "Value");
    v.spellcheck = false;
    var remove = button("×", "iamkb-small", function () { row.remove(); });
    remove.setAttribute("aria-label", "Remove this key");
    row.appendChild(k);
    row.appendChild(v);
    row.appendChild(remove);
    row.original = value;
    card.context.appendChild(row);
    return row;
  }

  function makeCard(pg, spec) {
    var n = ++uid;
    var root = el("section", "iamkb-card");
    var title = el("h3", "iamkb-card-title", spec.name || "Request");
    root.appendChild(title);
    if (spec.doc) {
      var doc = el("p", "iamkb-card-doc");
      doc.appendChild(el("span", "iamkb-card-doc-label", "The docs: "));
      doc.appendChild(el("q", "", spec.doc));
      if (spec.expected) doc.appendChild(el("span", "iamkb-card-expected", " Expected: " + spec.expected));
      if (spec.status && spec.status !== "ok" && spec.reason) doc.appendChild(el("em", "", " (" + spec.status.replace("_", " ") + ": " + spec.reason + ")"));
      root.appendChild(doc);
    }
    var req = spec.scenario.request || {};
    var card = { root: root, spec: spec };
    card.resources = el("datalist");
    card.resources.id = "iamkb-resources-" + n;
    card.keys = el("datalist");
    card.keys.id = "iamkb-keys-" + n;
    root.appendChild(card.resources);
    root.appendChild(card.keys);
    var principal = field("Principal", req.principal);
    var action = field("Action", req.action, "iamkb-actions");
    var resource = field("Resource", req.resource, card.resources.id);
    card.principal = principal.input;
    card.action = action.input;
    card.resource = resource.input;
    root.appendChild(principal.wrap);
    root.appendChild(action.wrap);
    card.hint = el("div", "iamkb-hint");
    root.appendChild(card.hint);
    root.appendChild(resource.wrap);
    var ctx = el("fieldset", "iamkb-context");
    ctx.appendChild(el("legend", "", "Context keys"));
    card.context = el("div", "iamkb-context-rows");
    ctx.appendChild(card.context);
    ctx.appendChild(button("+ key", "iamkb-small", function () { contextRow(card, "", undefined).querySelector("input").focus(); }));
    root.appendChild(ctx);
    Object.keys(req.context || {}).forEach(function (k) { contextRow(card, k, req.context[k]); });
    var others = otherParts(spec);
    if (others) root.appendChild(others);
    card.result = el("div", "iamkb-result");
    card.result.setAttribute("aria-live", "polite");
    root.appendChild(card.result);
    card.action.addEventListener("focus", function () { loadBuilder().then(function () { offerFor(card); }); });
    card.action.addEventListener("change", function () { offerFor(card); });
    card.resource.addEventListener("focus", function () { offerFor(card); });
    pg.cards.appendChild(root);
    return card;
  }

  // The scenario's other policies (a resource policy, boundaries, SCPs...), shown, not edited.
  function otherParts(spec) {
    var names = { identityPolicies: "identity-based policies", resourcePolicy: "a resource-based policy",
      permissionBoundaries: "a permissions boundary", serviceControlPolicies: "service control policies",
      sessionPolicy: "a session policy" };
    var rest = JSON.parse(JSON.stringify(spec.scenario));
    delete rest.request;
    var slots = spec.slots.map(pathOf);
    var listed = Object.keys(rest).filter(function (k) {
      var v = rest[k];
      if (v === null || (Array.isArray(v) && v.length === 0)) return false;
      return !(slots.indexOf(k) !== -1 || (Array.isArray(v) && v.length === 1 && slots.indexOf(k + "[0]") !== -1));
    });
    if (!listed.length) return null;
    var d = el("details", "iamkb-others");
    d.appendChild(el("summary", "", "Also in this scenario: " + listed.map(function (k) { return names[k] || k; }).join(", ") +
      (slots.length ? " (the policy above is shown as null where it goes)" : "")));
    d.appendChild(el("pre", "", JSON.stringify(rest, null, 2)));
    return d;
  }

  function readRequest(card) {
    var req = { principal: card.principal.value.trim(), action: card.action.value.trim(), resource: card.resource.value.trim() };
    var original = card.spec.scenario.request || {};
    if (original.resourceAccount) req.resourceAccount = original.resourceAccount;
    var ctx = {};
    card.context.querySelectorAll(".iamkb-context-row").forEach(function (row) {
      var inputs = row.querySelectorAll("input");
      var key = inputs[0].value.trim();
      if (key) ctx[key] = typed(inputs[1].value, row.original);
    });
    if (Object.keys(ctx).length) req.context = ctx;
    return req;
  }

  function setRequest(card, req) {
    card.principal.value = req.principal || "";
    card.action.value = req.action || "";
    card.resource.value = req.resource || "";
    card.context.replaceChildren();
    Object.keys(req.context || {}).forEach(function (k) { contextRow(card, k, req.context[k]); });
  }

  function scenarioOf(card, policy) {
    var s = JSON.parse(JSON.stringify(card.spec.scenario));
    s.request = readRequest(card);
    card.spec.slots.forEach(function (slot) {
      var target = s;
      for (var i = 0; i < slot.length - 1; i++) target = target[slot[i]];
      target[slot[slot.length - 1]] = JSON.parse(JSON.stringify(policy));
    });
    return s;
  }

  // --------------------------------------------------------------------------------------------- results

  function yes(ok) { return ok ? "yes" : "no"; }

  // Which statement of the edited policy an explanation entry is, as an editor path ("" = the policy itself).
  function editorPath(entry, slots) {
    for (var i = 0; i < slots.length; i++) {
      var slot = pathOf(slots[i]);
      if (entry.path === slot) return "";
      if (entry.path.indexOf(slot) === 0 && (entry.path[slot.length] === "." || entry.path[slot.length] === "[")) {
        return entry.path.slice(slot.length + (entry.path[slot.length] === "." ? 1 : 0));
      }
    }
    return null;
  }

  function explainList(pg, result, slots) {
    var list = el("ul", "iamkb-explain");
    var lines = pathLines(pg.editor.value);
    (result.explain || []).forEach(function (entry) {
      var item = el("li", "iamkb-explain-statement" + (entry.decisive ? " iamkb-decisive" : "") + (entry.applies ? " iamkb-applies" : ""));
      var head = el("div", "iamkb-explain-head");
      head.appendChild(el("strong", "", entry.policy + " " + entry.statement));
      head.appendChild(document.createTextNode(" (" + entry.effect + "): " + (entry.applies ? "applies" : "does not apply") +
        (entry.decisive ? " — decided the request" : "")));
      var at = editorPath(entry, slots);
      if (at !== null) {
        var line = at === "" ? 1 : lineOf(lines, at);
        var jump = button("line " + line, "iamkb-small iamkb-jump", function () { pg.editor.goTo(line); });
        jump.setAttribute("aria-label", "Show " + entry.statement + " in the editor (line " + line + ")");
        head.appendChild(document.createTextNode(" "));
        head.appendChild(jump);
      }
      item.appendChild(head);
      var parts = el("ul", "iamkb-explain-parts");
      var a = entry.action;
      parts.appendChild(el("li", "", a.element + " " + a.patterns.join(", ") + ": matches " + yes(a.matches)));
      if (entry.evaluated) {
        var r = entry.resource;
        if (r.element) parts.appendChild(el("li", "", r.element + " " + r.patterns.join(", ") + ": matches " + yes(r.matches)));
        if (entry.policyType === "resource") parts.appendChild(el("li", "", "Principal: " + entry.principal));
        (entry.conditions || []).forEach(function (c) {
          var got = c.requestValue === null || c.requestValue === undefined ? "absent" : JSON.stringify(c.requestValue);
          parts.appendChild(el("li", "iamkb-condition " + (c.matches ? "iamkb-yes" : "iamkb-no"),
            c.operator + " " + c.key + " " + JSON.stringify(c.values) + " vs request " + got + ": " + yes(c.matches) +
            (c.reason ? " (" + c.reason + ")" : "")));
        });
      }
      item.appendChild(parts);
      list.appendChild(item);
    });
    return list;
  }

  function docsVerdict(spec, decision) {
    if (!spec.expected) return null;
    var p = el("p", "iamkb-verdict");
    if (spec.status === "ambiguous") {
      p.textContent = "The docs are ambiguous here (" + (spec.reason || "see the scenario table") + ").";
      p.className += " iamkb-maybe";
    } else if (spec.status === "docs_wrong") {
      var agrees = decision === spec.expected;
      p.textContent = agrees ? "Now as the docs claim (" + spec.expected + "), which the scenario marks as the docs being wrong."
        : "The docs claim " + spec.expected + "; the engine decides otherwise (" + (spec.reason || "docs wrong") + ").";
      p.className += agrees ? " iamkb-yes" : " iamkb-maybe";
    } else if (decision === spec.expected) {
      p.textContent = "Matches what the docs' sentence says (" + spec.expected + ").";
      p.className += " iamkb-yes";
    } else {
      p.textContent = "No longer what the docs' sentence says: it expects " + spec.expected + ".";
      p.className += " iamkb-no";
    }
    return p;
  }

  function showResult(pg, card, result) {
    card.result.replaceChildren();
    var badge = el("p", "iamkb-decision iamkb-decision--" + result.decision);
    badge.appendChild(el("strong", "", result.decision));
    badge.appendChild(document.createTextNode(": " + result.reason));
    card.result.appendChild(badge);
    var verdict = docsVerdict(card.spec, result.decision);
    if (verdict) card.result.appendChild(verdict);
    card.result.appendChild(explainList(pg, result, card.spec.slots));
  }

  function showError(box, message) {
    box.replaceChildren(el("p", "iamkb-error", message));
  }

  function engineHelp(box, err) {
    box.replaceChildren();
    var note = el("div", "admonition info iamkb-engine-help");
    note.appendChild(el("p", "admonition-title", err.code === "file" ? "Open the site over HTTP to run policies"
      : err.code === "missing" ? "This copy of the site cannot run policies" : "The engine did not load"));
    note.appendChild(el("p", "", err.message));
    var pre = el("pre");
    pre.appendChild(el("code", "", "iamkb check --json policy.json\niamkb simulate --json scenario.json   # scenario format in DESIGN.md"));
    note.appendChild(pre);
    box.appendChild(note);
  }

  // ------------------------------------------------------------------------------------------------ lint

  function isStatementOnly(value) {
    return value && typeof value === "object" && !Array.isArray(value) && !("Statement" in value);
  }

  // `iamkb check` on the editor's text; a bare statement (key-policy sections, as examples.py lints it) is
  // checked inside a one-statement document and its findings' paths are put back relative to the statement.
  async function lintText(text) {
    var parsed;
    try { parsed = JSON.parse(text); } catch (e) { parsed = undefined; }
    if (isStatementOnly(parsed)) {
      var out = await window.iamkb.check({ Version: "2012-10-17", Statement: [parsed] });
      return out.findings.map(function (f) {
        var p = f.path === "Statement[0]" ? "(top)" : f.path.replace(/^Statement\[0\]\./, "");
        return Object.assign({}, f, { path: p });
      });
    }
    return (await window.iamkb.check(text)).findings;
  }

  function showFindings(pg, findings, note) {
    var lines = pathLines(pg.editor.value);
    var marks = {};
    pg.lint.replaceChildren();
    if (note) pg.lint.appendChild(el("p", "iamkb-lint-note", note));
    if (!findings.length) {
      pg.lint.appendChild(el("p", "iamkb-lint-none", "No findings: iamkb check reports nothing for this policy."));
      pg.editor.mark({});
      return;
    }
    var list = el("ul", "iamkb-findings");
    findings.forEach(function (f) {
      var line = f.line || lineOf(lines, f.path);
      if (!marks[line] || f.severity === "error") marks[line] = f.severity;
      var item = el("li", "iamkb-finding iamkb-finding--" + f.severity);
      var jump = button("line " + line, "iamkb-small iamkb-jump", function () { pg.editor.goTo(line); });
      item.appendChild(jump);
      item.appendChild(el("span", "iamkb-finding-severity", " " + f.severity + " "));
      item.appendChild(el("code", "", f.code));
      item.appendChild(document.createTextNode(" " + f.message + (f.path && f.path !== "(top)" ? " (" + f.path + ")" : "")));
      list.appendChild(item);
    });
    pg.lint.appendChild(list);
    pg.editor.mark(marks);
  }

  function lintNow(pg) {
    var text = pg.editor.value;
    var ticket = ++pg.lintTicket;
    if (!pg.data.lints) return;
    pg.lint.setAttribute("aria-busy", "true");
    lintText(text).then(function (findings) {
      if (ticket !== pg.lintTicket) return;
      showFindings(pg, findings);
    }, function (err) {
      if (ticket !== pg.lintTicket) return;
      if (err.code) { engineHelp(pg.lint, err); return; }
      var m = /line (\d+)/.exec(err.message);
      showFindings(pg, [{ code: "INPUT", severity: "error", message: err.message, path: "(top)", line: m ? +m[1] : 1 }]);
    }).finally(function () { pg.lint.removeAttribute("aria-busy"); });
  }

  function scheduleLint(pg) {
    clearTimeout(pg.lintTimer);
    pg.lintTimer = setTimeout(function () { lintNow(pg); }, LINT_DELAY);
  }

  // ------------------------------------------------------------------------------------------------- run

  async function runAll(pg) {
    var text = pg.editor.value, policy;
    try {
      policy = JSON.parse(text);
    } catch (e) {
      showError(pg.status, "The policy is not valid JSON (" + e.message + "); the findings under the editor say where.");
      lintNow(pg);
      return;
    }
    pg.run.disabled = true;
    pg.status.replaceChildren(el("p", "iamkb-busy", "Running…"));
    try {
      for (var i = 0; i < pg.cardList.length; i++) {
        var card = pg.cardList[i];
        var req = readRequest(card);
        if (!req.action || !req.resource) {
          showError(card.result, "Fill in the action and the resource (the fields offer the reference's names; " +
            "an action without resource-level permissions takes *).");
          continue;
        }
        try {
          showResult(pg, card, await window.iamkb.simulate(scenarioOf(card, policy)));
        } catch (err) {
          if (err.code) throw err;
          showError(card.result, err.message);
        }
      }
      var info = await window.iamkb.engine();
      pg.status.replaceChildren(el("p", "iamkb-engine-label", "Decided by " + info.label + "."));
    } catch (err) {
      engineHelp(pg.status, err);
    } finally {
      pg.run.disabled = false;
    }
  }

  // ---------------------------------------------------------------------------------------- share, reset

  function stateOf(pg) {
    return { p: pg.editor.value, r: pg.cardList.map(readRequest) };
  }

  async function share(pg) {
    var url = new URL(location.href);
    url.hash = SHARE + (await encodeState(stateOf(pg)));
    history.replaceState(history.state, "", url.href);
    pg.link.value = url.href;
    pg.link.hidden = false;
    pg.link.select();
    try {
      await navigator.clipboard.writeText(url.href);
      pg.shareNote.textContent = "Link copied: it opens this page with your policy and requests.";
    } catch (e) {
      pg.shareNote.textContent = "Copy the link above: it opens this page with your policy and requests.";
    }
  }

  function apply(pg, state) {
    if (typeof state.p === "string") pg.editor.setValue(state.p);
    (state.r || []).forEach(function (req, i) {
      if (!pg.cardList[i]) {
        if (pg.kind !== "try") return;
        pg.cardList.push(makeCard(pg, blankSpec(pg)));
      }
      setRequest(pg.cardList[i], req);
    });
  }

  function reset(pg) {
    pg.editor.setValue(pg.data.policy);
    pg.cardList.forEach(function (card) { card.root.remove(); });
    pg.cardList = pg.data.scenarios.map(function (spec) { return makeCard(pg, spec); });
    pg.status.replaceChildren();
    if (location.hash.indexOf("#" + SHARE) === 0) history.replaceState(history.state, "", location.pathname + location.search);
    pg.link.hidden = true;
    pg.shareNote.textContent = "";
    clearTimeout(pg.lintTimer);
    pg.lintTicket++;
    showFindings(pg, pg.data.lint, initialNote(pg));
  }

  function initialNote(pg) {
    return pg.data.lint.length ? "As iamkb check reported for the docs' version; edits are checked as you type." : null;
  }

  function blankSpec(pg) {
    var base = pg.data.scenarios[0];
    var spec = JSON.parse(JSON.stringify(base));
    spec.name = "Request " + (pg.cardList.length + 1);
    spec.scenario.request = { principal: (base.scenario.request || {}).principal || "", action: "", resource: "", context: {} };
    return spec;
  }

  // -------------------------------------------------------------------------------------------- exercises

  async function checkExercise(box, data, pg) {
    var out = box.querySelector(".iamkb-exercise-result");
    var policy;
    try {
      policy = JSON.parse(pg.editor.value);
    } catch (e) {
      showError(out, "Your policy is not valid JSON yet (" + e.message + ").");
      return;
    }
    out.replaceChildren(el("p", "iamkb-busy", "Checking…"));
    var failed = [];
    try {
      for (var i = 0; i < data.scenarios.length; i++) {
        var s = data.scenarios[i];
        var got;
        try {
          got = (await window.iamkb.simulate({ request: s.request, identityPolicies: [policy] })).decision;
        } catch (err) {
          if (err.code) throw err;
          showError(out, err.message);
          return;
        }
        var ok = got === s.expected || (s.expected === "Denied" && got !== "Allowed");
        if (!ok) failed.push({ s: s, got: got });
      }
    } catch (err) {
      engineHelp(out, err);
      return;
    }
    out.replaceChildren();
    var head = el("p", "iamkb-exercise-verdict " + (failed.length ? "iamkb-no" : "iamkb-yes"),
      failed.length ? "Not yet: " + failed.length + " of " + data.scenarios.length + " requests are decided otherwise than the docs' example decides them."
        : "Passed: all " + data.scenarios.length + " requests are decided as the docs' example decides them.");
    out.appendChild(head);
    if (failed.length) {
      var list = el("ul", "iamkb-exercise-failures");
      failed.forEach(function (f) {
        var r = f.s.request;
        var item = el("li");
        item.appendChild(el("strong", "", f.s.name));
        var expected = f.s.expected === "Denied" ? "a deny (explicit or implicit)" : f.s.expected;
        item.appendChild(document.createTextNode(": expected " + expected + ", your policy gives " + f.got + ". "));
        item.appendChild(el("code", "", r.action + " on " + r.resource + (r.context ? " with " + JSON.stringify(r.context) : "")));
        item.appendChild(el("q", "iamkb-exercise-doc", f.s.doc));
        list.appendChild(item);
      });
      out.appendChild(list);
    }
  }

  function setupExercises(pg) {
    document.querySelectorAll(".iamkb-exercise").forEach(function (box) {
      if (box.dataset.ready) return;
      box.dataset.ready = "1";
      var data = JSON.parse(box.querySelector(".iamkb-exercise-data").textContent);
      var out = el("div", "iamkb-exercise-result");
      out.setAttribute("aria-live", "polite");
      box.appendChild(button("Check my policy", "md-button--primary iamkb-exercise-check", function () { checkExercise(box, data, pg); }));
      box.appendChild(out);
    });
  }

  // ------------------------------------------------------------------------------------------------ setup

  async function setupOne(root) {
    var data = JSON.parse(root.querySelector(".iamkb-playground-data").textContent);
    var noscript = root.querySelector(".iamkb-playground-noscript");
    if (noscript) noscript.remove();
    var pg = { root: root, data: data, kind: root.dataset.kind, lintTicket: 0, cardList: [], edited: false };
    var mods = await loadEditor();
    var editorBox = el("div", "iamkb-editor");
    var bar = el("div", "iamkb-toolbar");
    pg.run = button("Run", "md-button--primary iamkb-run", function () { runAll(pg); });
    bar.appendChild(pg.run);
    bar.appendChild(button("Reset", "iamkb-reset", function () { reset(pg); }));
    bar.appendChild(button("Copy link", "iamkb-share", function () { share(pg); }));
    if (pg.kind === "try") {
      bar.appendChild(button("+ Request", "iamkb-add", function () {
        var card = makeCard(pg, blankSpec(pg));
        pg.cardList.push(card);
        card.action.focus();
      }));
    }
    pg.link = el("input", "iamkb-input iamkb-share-link");
    pg.link.readOnly = true;
    pg.link.hidden = true;
    pg.link.setAttribute("aria-label", "Link to this page with your edits");
    pg.shareNote = el("span", "iamkb-share-note");
    pg.shareNote.setAttribute("aria-live", "polite");
    pg.lint = el("div", "iamkb-lint");
    pg.lint.setAttribute("aria-live", "polite");
    pg.status = el("div", "iamkb-status");
    pg.status.setAttribute("aria-live", "polite");
    pg.cards = el("div", "iamkb-cards");
    root.appendChild(editorBox);
    root.appendChild(pg.lint);
    root.appendChild(bar);
    root.appendChild(pg.link);
    root.appendChild(pg.shareNote);
    root.appendChild(pg.status);
    root.appendChild(pg.cards);
    pg.editor = makeEditor(editorBox, data.policy, function () {
      if (pg.applying) return;
      pg.edited = true;
      scheduleLint(pg);
    }, mods);
    pg.cardList = data.scenarios.map(function (spec) { return makeCard(pg, spec); });
    showFindings(pg, data.lint, initialNote(pg));
    if (location.hash.indexOf("#" + SHARE) === 0) {
      try {
        pg.applying = true;
        apply(pg, await decodeState(location.hash.slice(1 + SHARE.length)));
      } catch (e) {
        showError(pg.status, "The link's edit could not be read (" + e.message + "); showing the docs' version.");
      } finally {
        pg.applying = false;
      }
      if (pg.editor.value !== data.policy) lintNow(pg);
    }
    root.dataset.ready = "1";
    playgrounds.push(pg);
    if (pg.kind === "try") setupExercises(pg);
    root.dispatchEvent(new CustomEvent("iamkb:playground-ready", { bubbles: true }));
  }

  function setup() {
    playgrounds = playgrounds.filter(function (pg) { return document.contains(pg.root); });
    document.querySelectorAll(".iamkb-playground").forEach(function (root) {
      if (root.dataset.started) return;
      root.dataset.started = "1";
      setupOne(root).catch(function (err) {
        root.appendChild(el("p", "iamkb-error", "The playground failed to start: " + err.message));
      });
    });
  }

  if (typeof document$ !== "undefined") document$.subscribe(setup);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();

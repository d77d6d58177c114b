// The "Can I make this call?" form: posts the JSON to `iamkb serve`'s /api/can-i and shows the verdict, each
// permission with its decision, and the fix. Opened as static files (or served by anything else) there is no
// API, so it says how to run the same check from the command line instead.
(function () {
  "use strict";

  var el = window.iamkbApi.el;  // docs/javascripts/api.js

  function cliHelp(box) {
    box.replaceChildren();
    var note = el("div", "admonition info");
    note.appendChild(el("p", "admonition-title", "The check needs the iamkb server"));
    note.appendChild(el("p", "", "This page is not served by `iamkb serve`, so there is no API to check the call. " +
      "Save the JSON above as call.json and run the same check from the command line, or start the server and " +
      "open this page from it:"));
    var pre = el("pre");
    pre.appendChild(el("code", "", "iamkb can-i call.json\niamkb serve --port 8000   # then open " +
      "http://127.0.0.1:8000/reference/can-i/"));
    note.appendChild(pre);
    box.appendChild(note);
  }

  function cell(row, text, cls) {
    var td = el("td", cls, text);
    row.appendChild(td);
    return td;
  }

  function render(box, data) {
    box.replaceChildren();
    var missing = data.requirements.filter(function (r) { return r.decision !== "Allowed"; }).length;
    box.appendChild(el("p", "iamkb-can-i-verdict", data.verdict + ": " + data.requirements.length +
      " permissions needed, " + missing + " missing"));
    var tbl = el("table");
    var head = el("tr");
    ["Decision", "Permission", "Resource", "For whom", "Why", "Source"].forEach(function (h) {
      head.appendChild(el("th", "", h));
    });
    tbl.appendChild(head);
    data.requirements.forEach(function (r) {
      var row = el("tr", r.decision === "Allowed" ? "" : "iamkb-can-i-missing");
      cell(row, r.decision);
      cell(row, r.action);
      cell(row, r.resource);
      cell(row, r["for"] === "caller" ? "caller" : "service-linked role");
      cell(row, r.decision === "Allowed" ? "" : r.reason + " (" + r.evaluation + ")");
      cell(row, r.source);
      tbl.appendChild(row);
    });
    box.appendChild(tbl);
    function block(title, value) {
      box.appendChild(el("p", "", title));
      var pre = el("pre");
      pre.appendChild(el("code", "", typeof value === "string" ? value : JSON.stringify(value, null, 2)));
      box.appendChild(pre);
    }
    if (data.fix) block("Add to the caller's identity-based policies:", data.fix);
    Object.keys(data.keyPolicyFix || {}).forEach(function (key) {
      block("Add to the key policy of " + key + ":", data.keyPolicyFix[key].Statement);
    });
    (data.grantFix || []).forEach(function (g) { block("Create a grant on " + g.KeyId + ":", g.command); });
    if (data.fixVerified !== null && data.fixVerified !== undefined) {
      box.appendChild(el("p", "", data.fixVerified ? "Checked: with these added, every missing permission is allowed."
        : "Checked: these alone do not allow every missing permission (see the notes)."));
    }
    (data.notes || []).forEach(function (n) { box.appendChild(el("p", "iamkb-can-i-note", "Note: " + n)); });
  }

  function check(box, text) {
    box.replaceChildren(el("p", "iamkb-busy", "Checking…"));
    window.iamkbApi.call("/api/can-i", { method: "POST", body: text,
      headers: { "Content-Type": "application/json", Accept: "application/json" } })
      .then(function (data) { render(box, data); })
      .catch(function (err) {
        if (window.iamkbApi.noApi(err)) cliHelp(box);
        else box.replaceChildren(el("p", "iamkb-error", "Error: " + err.message));
      });
  }

  function setup() {
    document.querySelectorAll(".iamkb-can-i").forEach(function (root) {
      if (root.dataset.ready) return;
      root.dataset.ready = "1";
      var input = root.querySelector("textarea");
      var button = el("button", "md-button md-button--primary", "Check the call");
      button.type = "button";
      var out = el("div", "iamkb-can-i-output");
      out.setAttribute("aria-live", "polite");
      root.appendChild(button);
      root.appendChild(out);
      button.addEventListener("click", function () {
        var text = input.value.trim();
        if (text) check(out, text);
      });
    });
  }

  if (typeof document$ !== "undefined") document$.subscribe(setup);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();

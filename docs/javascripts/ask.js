// The Ask box: asks `iamkb serve`'s /api/ask and lists the answer's sections. Opened as static files (or
// served by anything else) there is no API, so it explains how to ask from the command line instead.
(function () {
  "use strict";

  var el = window.iamkbApi.el;  // docs/javascripts/api.js

  function cliHelp(box, question) {
    box.replaceChildren();
    var note = el("div", "admonition info");
    note.appendChild(el("p", "admonition-title", "Ask needs the iamkb server"));
    note.appendChild(el("p", "", "This page is not served by `iamkb serve`, so there is no API to ask. " +
      "Run the same question from the command line, or start the server and open this page from it:"));
    var pre = el("pre");
    pre.appendChild(el("code", "", "iamkb ask \"" + (question || "how do I stop people deleting scaling policies?") +
      "\"\niamkb serve --port 8000   # then open http://127.0.0.1:8000/ask/"));
    note.appendChild(pre);
    box.appendChild(note);
  }

  // While `iamkb serve` is still making the index's sentence vectors, ask answers with the lexical ranking
  // and says so (data.ranking "lexical", data.index.vectors "building"): tell the reader why and for how long.
  function rankingNote(data) {
    if (data.ranking !== "lexical") return null;
    var building = data.index && data.index.vectors === "building";
    var text = building
      ? "Answered by the lexical ranking: the server is still building the semantic index (" +
        (data.index.embedded || 0) + " of " + (data.index.total || "?") + " texts). Ask again in a few " +
        "minutes for the full ranking."
      : "Answered by the lexical ranking: this index has no semantic vectors (run `iamkb index`).";
    return el("p", "iamkb-ranking-note", text);
  }

  function render(box, data) {
    box.replaceChildren();
    var note = rankingNote(data);
    if (note) box.appendChild(note);
    if (data.answer) box.appendChild(el("p", "iamkb-answer", data.answer));
    if (data.hint) {
      var hint = el("p", "iamkb-hint", data.hint.message + " ");
      var link = el("a", "", "Check the call");
      link.href = "/" + data.hint.url;
      hint.appendChild(link);
      box.appendChild(hint);
    }
    var list = el("ol", "iamkb-results");
    (data.results || []).forEach(function (r) {
      var item = el("li");
      var link = el("a", "", r.title || r.id);
      link.href = r.site_url || r.url || "#";
      item.appendChild(link);
      item.appendChild(el("span", "iamkb-result-kind", " " + (r.kind || "")));
      if (r.snippet) item.appendChild(el("div", "iamkb-snippet", r.snippet));
      list.appendChild(item);
    });
    if (!list.children.length) box.appendChild(el("p", "", "No answer found in the knowledge base."));
    else box.appendChild(list);
  }

  function ask(box, question, limit) {
    box.replaceChildren(el("p", "iamkb-busy", "Asking…"));
    window.iamkbApi.call("/api/ask?q=" + encodeURIComponent(question) + "&limit=" + limit,
      { headers: { Accept: "application/json" } })
      .then(function (data) { render(box, data); })
      .catch(function (err) {
        if (window.iamkbApi.noApi(err)) cliHelp(box, question);
        else box.replaceChildren(el("p", "iamkb-error", "Error: " + err.message));
      });
  }

  function setup() {
    document.querySelectorAll(".iamkb-ask").forEach(function (root) {
      if (root.dataset.ready) return;
      root.dataset.ready = "1";
      var limit = root.dataset.askLimit || "5";
      var form = el("form", "iamkb-ask-form");
      var input = el("input", "md-input iamkb-ask-input");
      input.type = "text";
      input.name = "q";
      input.placeholder = "Ask a question, e.g. how do I stop people deleting scaling policies?";
      input.setAttribute("aria-label", "Question");
      input.maxLength = 500;
      var button = el("button", "md-button md-button--primary", "Ask");
      button.type = "submit";
      var out = el("div", "iamkb-ask-output");
      out.setAttribute("aria-live", "polite");
      form.appendChild(input);
      form.appendChild(button);
      root.appendChild(form);
      root.appendChild(out);
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var q = input.value.trim();
        if (q) ask(out, q, limit);
      });
    });
  }

  // Material's document$ fires on every instant navigation; it may not fire on file:// pages, so set up on
  // load as well (setup is idempotent).
  if (typeof document$ !== "undefined") document$.subscribe(setup);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();

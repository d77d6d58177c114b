// The Ask page: a question in, the answer as the docs give it: the entity a question names as a card (its
// access level, resource types, condition keys, what else the call needs, the managed policies that grant it),
// the section that answers it quoted with a link to its page here, a how-to's example policy, the sources, and
// the other results. The answer comes from whichever engine the header box uses (javascripts/search/box.js):
// iamkb serve's full ranking when the page is served by it, else iamkb's ranking computed in the page (static
// token vectors in place of the sentence vectors), on any static host or from disk. Everything is built as DOM nodes: no markup from the answer is interpreted.
(function () {
  "use strict";

  var S = function () { return window.iamkbSearch; };  // javascripts/search/box.js
  var cards = null;

  var el = window.iamkbApi.el;  // javascripts/api.js

  function link(text, url, cls) {
    var a = el("a", cls || "", text);
    a.href = S().fromRoot(url);
    if (/^[a-z]+:/i.test(url)) {
      a.target = "_blank";
      a.rel = "noopener";
      a.title = "AWS documentation (this site has no page for it)";
    }
    return a;
  }

  function loadCards() {
    if (!cards) {
      cards = new Promise(function (resolve) {
        var s = document.createElement("script");
        s.src = S().fromRoot("search/iamkb-cards.js");
        s.onload = function () { resolve(window.iamkbSearchCards || {}); };
        s.onerror = function () { resolve({}); };
        document.head.appendChild(s);
      });
    }
    return cards;
  }

  // JSON as Material colours it (the Pygments classes of the site's own code blocks).
  function highlightJson(code) {
    var pre = el("pre");
    var out = el("code");
    var re = /("(?:[^"\\]|\\.)*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b|([{}\[\],:])|(\s+)|(.)/g;
    var m;
    while ((m = re.exec(code)) !== null) {
      if (m[1]) {
        out.appendChild(el("span", m[2] ? "nt" : "s2", m[1]));
        if (m[2]) out.appendChild(el("span", "p", m[2]));
      } else if (m[3]) out.appendChild(el("span", "mi", m[3]));
      else if (m[4]) out.appendChild(el("span", "kc", m[4]));
      else if (m[5]) out.appendChild(el("span", "p", m[5]));
      else out.appendChild(document.createTextNode(m[0]));
    }
    pre.appendChild(out);
    var box = el("div", "language-json highlight");
    box.appendChild(pre);
    return box;
  }

  function citationUrl(out, id) {
    var c = (out.citations || []).find(function (x) { return x.id === id; });
    return c ? (c.site_url || c.url) : "";
  }

  function linkList(items, empty) {
    var span = el("span");
    if (!items || !items.length) {
      span.textContent = empty || "none";
      return span;
    }
    items.forEach(function (item, i) {
      if (i) span.appendChild(document.createTextNode(", "));
      span.appendChild(item.site_url ? link(item.label, item.site_url) : el("code", "", item.label));
      if (item.required !== undefined) span.appendChild(document.createTextNode(item.required ? " (required)" : " (optional)"));
      if (item.when && item.when.length) span.appendChild(document.createTextNode(" when " + item.when.join("; or when ")));
    });
    return span;
  }

  function row(dl, term, value) {
    dl.appendChild(el("dt", "", term));
    var dd = el("dd");
    dd.appendChild(typeof value === "string" ? document.createTextNode(value) : value);
    dl.appendChild(dd);
  }

  function entityCard(entity, title, url, card) {
    var kind = entity.id.split(":")[0];
    var box = el("section", "iamkb-answer-card");
    box.setAttribute("aria-label", S().kindLabel(kind) + " " + title);
    var h = el("h3");
    h.appendChild(url ? link(title, url) : document.createTextNode(title));
    h.appendChild(el("span", "iamkb-search__kind", S().kindLabel(kind)));
    box.appendChild(h);
    var dl = el("dl");
    if (!card) {
      box.appendChild(el("p", "", entity.text));
      return box;
    }
    if (kind === "action") {
      row(dl, "Access level", card.access_level);
      row(dl, "Resource types", linkList(card.resource_types, "none (the policy's Resource must be \"*\")"));
      row(dl, "Condition keys", linkList(card.condition_keys));
      if (card.needs) row(dl, "The call also needs", linkList(card.needs, "nothing else, say the docs"));
      if (card.dependent_actions.length) row(dl, "Dependent actions", linkList(card.dependent_actions));
      row(dl, "Granted by", linkList(card.managed_policies, "no AWS managed policy in this knowledge base"));
    } else if (kind === "condition_key") {
      row(dl, "Type", card.type);
      if (card.description) row(dl, "Description", card.description);
      var used = linkList(card.used_by);
      if (card.used_by_count > card.used_by.length) {
        used.appendChild(document.createTextNode(" and " + (card.used_by_count - card.used_by.length) + " more"));
      }
      row(dl, "Used with", used);
    } else if (kind === "resource_type") {
      row(dl, "ARN", el("code", "", card.arn));
      row(dl, "Condition keys", linkList(card.condition_keys));
    } else if (kind === "managed_policy") {
      row(dl, "ARN", el("code", "", card.arn));
      if (card.version) row(dl, "Version", card.version);
      row(dl, "Auto Scaling actions granted", String(card.grants_autoscaling));
    }
    box.appendChild(dl);
    return box;
  }

  function engineNote(out) {
    var text = "Answered by " + out.label + ".";
    if (out.index && out.index.vectors === "building") {
      text += " The server is still making its sentence vectors (" + (out.index.embedded || 0) + " of " +
        (out.index.total || "?") + " texts): ask again in a few minutes for the full ranking.";
    }
    return el("p", "iamkb-answer-engine", text);
  }

  function render(box, out, question) {
    box.replaceChildren();
    var view = el("div", "iamkb-answer-view");
    var parts = out.parts || { declined: !out.results.length, facts: [] };
    var titles = {};
    (out.citations || []).forEach(function (c) { titles[c.id] = c.title; });
    out.results.forEach(function (r) { titles[r.id] = titles[r.id] || r.title; });

    if (parts.declined) {
      var p = el("p", "iamkb-answer-lead iamkb-answer-declined", "Nothing in the knowledge base answers this confidently.");
      if (parts.closest) {
        var near = out.results.find(function (r) { return r.id === parts.closest.id; });
        p.appendChild(document.createTextNode(" The closest match, "));
        p.appendChild(link(parts.closest.title, near ? near.url : parts.closest.url));
        p.appendChild(document.createTextNode(", covers too little of the question."));
      }
      p.appendChild(document.createTextNode(" Try other words."));
      view.appendChild(p);
    }
    var cardsWanted = (parts.facts || []).length ? loadCards() : Promise.resolve({});
    var cardSlot = el("div");
    view.appendChild(cardSlot);
    cardsWanted.then(function (all) {
      (parts.facts || []).forEach(function (e) {
        cardSlot.appendChild(entityCard(e, titles[e.id] || e.id.replace(/^[a-z_]+:/, ""), citationUrl(out, e.id), all[e.id]));
      });
    });
    if (parts.quote) {
      var quote = el("blockquote", "iamkb-answer-quote");
      quote.appendChild(el("p", "", parts.quote.text));
      var from = el("p", "iamkb-answer-from", "From ");
      from.appendChild(link(parts.quote.title, citationUrl(out, parts.quote.id)));
      quote.appendChild(from);
      view.appendChild(quote);
    }
    if (parts.summary) {
      var lead = el("p", "iamkb-answer-lead");
      lead.appendChild(link(parts.summary.title, citationUrl(out, parts.summary.id)));
      lead.appendChild(document.createTextNode(": " + parts.summary.text));
      view.appendChild(lead);
    }
    if (parts.example) {
      var ex = el("section", "iamkb-answer-example");
      var h = el("h3", "", "Example policy ");
      var exUrl = citationUrl(out, parts.example.id);
      h.appendChild(link("(run it on its page)", exUrl));
      ex.appendChild(h);
      ex.appendChild(highlightJson(parts.example.code));
      view.appendChild(ex);
    }
    if (out.hint) {  // the CLI's message: `command` spans as code
      var hint = el("p", "iamkb-hint");
      out.hint.message.split("`").forEach(function (piece, i) {
        hint.appendChild(i % 2 ? el("code", "", piece) : document.createTextNode(piece));
      });
      hint.appendChild(document.createTextNode(" "));
      hint.appendChild(link("Check the call", out.hint.url));
      view.appendChild(hint);
    }
    if ((out.citations || []).length) {
      var src = el("section", "iamkb-answer-sources");
      src.appendChild(el("h3", "", "Sources"));
      var ol = el("ol");
      out.citations.forEach(function (c) {
        var li = el("li");
        li.appendChild(link(c.title, c.site_url || c.url));
        ol.appendChild(li);
      });
      src.appendChild(ol);
      view.appendChild(src);
    }
    if (out.results.length) {
      var more = el("section", "iamkb-answer-results");
      more.appendChild(el("h3", "", "Results"));
      var list = el("ol", "iamkb-results");
      out.results.forEach(function (r) {
        var li = el("li");
        li.appendChild(link(r.title, r.url));
        li.appendChild(el("span", "iamkb-result-kind", " " + S().kindLabel(r.kind)));
        if (r.snippet) {
          var s = el("div", "iamkb-snippet");
          s.appendChild(S().snippetNodes(r.snippet));
          li.appendChild(s);
        }
        list.appendChild(li);
      });
      more.appendChild(list);
      view.appendChild(more);
    }
    view.appendChild(engineNote(out));
    box.appendChild(view);
  }

  function ask(box, question, limit) {
    box.replaceChildren(el("p", "iamkb-busy", "Asking\u2026"));
    S().ask(question, limit).then(function (out) { render(box, out, question); }, function (err) {
      box.replaceChildren(el("p", "iamkb-error", "The search engine could not be loaded: " + err.message +
        ". This copy of the site may have been built without its search data (rebuild it with make site)."));
    });
  }

  function setup() {
    document.querySelectorAll(".iamkb-ask").forEach(function (root) {
      if (root.dataset.ready) return;
      root.dataset.ready = "1";
      var limit = Number(root.dataset.askLimit || "5");
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
        if (!q) return;
        history.replaceState(null, "", "#q=" + encodeURIComponent(q));
        ask(out, q, limit);
      });
      var asked = /^#q=(.+)$/.exec(location.hash);  // from the header box's "Ask this" link
      if (asked) {
        input.value = decodeURIComponent(asked[1]);
        ask(out, input.value, limit);
      }
    });
  }

  // Material's document$ fires on every instant navigation; set up on load as well (setup is idempotent).
  if (typeof document$ !== "undefined") document$.subscribe(setup);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();

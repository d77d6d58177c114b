// The header search box, and window.iamkb.search(query, {limit}).
//
// Nothing is loaded until the box is first used (focused, clicked, or "/" or "s" pressed). Then the answers come
// from, in this order:
//   1. iamkb serve, when it serves this page (its static files carry the X-Iamkb-Api header): /api/ask, the full
//      ranking with the sentence vectors and the full learned ranker;
//   2. otherwise the page itself: the engine (analysis.js, tokenvectors.js, engine.js beside this file) over the
//      data the site build wrote (search/iamkb-data.js), iamkb ask's ranking computed in the browser with static
//      token vectors in place of the sentence vectors (lexical when the site was built without them). Any static host
//      and a copy opened from disk (file://) work: every file is a classic script, no fetch, no network.
// The Ask page (ask.js) asks through the same choice (window.iamkbSearch.ask).
(function () {
  "use strict";

  var script = document.currentScript;
  var ROOT = new URL("../../", script && script.src ? script.src : location.href);  // javascripts/search/box.js
  var KIND_LABELS = { section: "Section", example: "Example policy", action: "Action",
    condition_key: "Condition key", resource_type: "Resource type", managed_policy: "AWS managed policy" };
  var LIMIT = 8;

  // --- loading -----------------------------------------------------------------------------------------------

  function loadScript(url) {
    return new Promise(function (resolve, reject) {
      var el = document.createElement("script");
      el.src = url;
      el.async = false;
      el.onload = function () { resolve(); };
      el.onerror = function () { reject(new Error("cannot load " + url)); };
      document.head.appendChild(el);
    });
  }

  var pageEngine = null;
  function loadPageEngine() {
    if (!pageEngine) {
      var base = new URL("javascripts/search/", ROOT);
      pageEngine = Promise.all([
        loadScript(new URL("analysis.js", base).href),
        loadScript(new URL("tokenvectors.js", base).href),
        loadScript(new URL("engine.js", base).href),
        loadScript(new URL("search/iamkb-data.js", ROOT).href)
      ]).then(function () {
        var engine = new window.iamkbSearchEngine.Engine(window.iamkbSearchData);
        window.iamkbSearchData = null;  // the engine keeps what it needs
        return engine;
      });
      pageEngine.catch(function () { pageEngine = null; });  // a later use tries again
    }
    return pageEngine;
  }

  // Whether iamkb serve serves this page: one HEAD request for the page itself, which any static host answers
  // too (so a static host logs no failed request); none from file://.
  var serverCheck = null;
  function hasServer() {
    if (!serverCheck) {
      serverCheck = location.protocol === "file:" ? Promise.resolve(false)
        : fetch(location.href, { method: "HEAD", cache: "no-store" })
          .then(function (r) { return r.headers.get("X-Iamkb-Api") !== null; })
          .catch(function () { return false; });
    }
    return serverCheck;
  }

  function fromRoot(url) {  // a root-relative site URL (or an absolute one) -> a link from this page
    if (!url) return "";
    if (/^[a-z]+:/i.test(url)) return url;
    var target = new URL(url.replace(/^\//, ""), ROOT);
    if (location.protocol === "file:" && /\/$/.test(target.pathname)) target.pathname += "index.html";
    return target.href;
  }

  function rootRelative(siteUrl) { return siteUrl ? siteUrl.replace(/^\//, "") : ""; }

  // One answer shape for both engines: {engine, label, ranking, results: [{id, kind, title, url (root-relative
  // page in this site, or the upstream page), score, snippet, path}], parts, citations, corrections, hint}.
  function viaServer(question, limit) {
    return fetch(new URL("api/ask", ROOT).href + "?q=" + encodeURIComponent(question) + "&limit=" + limit,
      { headers: { Accept: "application/json" } })
      .then(function (resp) {
        return resp.json().then(function (body) {
          if (!resp.ok) throw new Error(body.error || "HTTP " + resp.status);
          return body;
        });
      })
      .then(function (data) {
        (data.citations || []).forEach(function (c) { c.site_url = rootRelative(c.site_url); });
        return {
          engine: "server", ranking: data.ranking || "full", index: data.index || null,
          label: data.ranking === "lexical" ? "iamkb serve (lexical ranking: its sentence vectors are not ready)"
            : "iamkb serve (full ranking)",
          results: (data.results || []).map(function (r) {
            return { id: r.id, kind: r.kind, title: r.title, url: r.site_url ? rootRelative(r.site_url) : r.url,
              score: r.score, snippet: r.snippet, path: null };
          }),
          parts: data.parts || null, citations: data.citations || [], corrections: data.corrections || {},
          hint: data.hint || null, answer: data.answer || ""
        };
      });
  }

  function viaPage(question, limit) {
    return loadPageEngine().then(function (engine) {
      var out = engine.ask(question, { limit: limit });
      return {
        engine: "page", ranking: out.ranking,
        label: out.ranking === "static" ? "this page (iamkb's ranking with static word vectors, no server)"
          : "this page (iamkb's lexical ranking, no server)",
        results: out.results.map(function (r) {
          var path = r.path;
          if (!path && r.section) {
            var sec = engine.document(r.section);
            path = sec ? sec.data.path : null;
          }
          return { id: r.id, kind: r.kind, title: r.title, url: r.site_url || r.url, score: r.score,
            snippet: r.snippet, path: path };
        }),
        parts: out.parts, citations: out.citations, corrections: out.corrections, hint: out.hint, answer: ""
      };
    });
  }

  // The engine to ask: the server when there is one, else the page. `prefer` "page" forces the page's.
  function ask(question, limit, prefer) {
    if (prefer === "page") return viaPage(question, limit);
    return hasServer().then(function (server) {
      return server ? viaServer(question, limit) : viaPage(question, limit);
    });
  }

  var el = window.iamkbApi.el;  // javascripts/api.js

  // A snippet (escaped text with <mark> around matched words) as DOM nodes: text stays text.
  function snippetNodes(snippet) {
    var frag = document.createDocumentFragment();
    String(snippet || "").split(/(<mark>|<\/mark>)/).reduce(function (marked, piece) {
      if (piece === "<mark>") return true;
      if (piece === "</mark>") return false;
      if (!piece) return marked;
      var text = piece.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
      frag.appendChild(marked ? el("mark", "", text) : document.createTextNode(text));
      return marked;
    }, false);
    return frag;
  }

  window.iamkbSearch = { ask: ask, fromRoot: fromRoot, kindLabel: function (k) { return KIND_LABELS[k] || k; },
    snippetNodes: snippetNodes, warm: function () { hasServer().then(function (s) { if (!s) loadPageEngine(); }); } };

  // window.iamkb.search(query, {limit, engine}): DESIGN.md's hook. Results best first, {id, kind, title, url,
  // score, snippet}: `url` is the page in this site relative to its root (the upstream page, absolute, for a
  // reference entity the site has no page for); `snippet` is HTML-escaped text with the matched words in
  // <mark>. {engine: "page"} asks the in-page engine even behind iamkb serve.
  window.iamkb = Object.assign(window.iamkb || {}, {
    search: function (query, options) {
      var limit = (options && options.limit) || 10;
      return ask(String(query), limit, options && options.engine).then(function (out) {
        return out.results.map(function (r) {
          return { id: r.id, kind: r.kind, title: r.title, url: r.url, score: r.score, snippet: r.snippet };
        });
      });
    }
  });

  // --- the box -----------------------------------------------------------------------------------------------

  var ICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" aria-hidden="true"><path d="M9.5 3A6.5' +
    ' 6.5 0 0 1 16 9.5c0 1.61-.59 3.09-1.56 4.23l.27.27h.79l5 5-1.5 1.5-5-5v-.79l-.27-.27A6.52 6.52 0 0 1 9.5 16' +
    ' 6.5 6.5 0 0 1 3 9.5 6.5 6.5 0 0 1 9.5 3m0 2C7 5 5 7 5 9.5S7 14 9.5 14 14 12 14 9.5 12 5 9.5 5"/></svg>';

  function Box(header) {
    var self = this;
    this.root = el("div", "iamkb-search");
    this.root.setAttribute("role", "search");
    this.open = el("button", "md-header__button md-icon iamkb-search__open");
    this.open.type = "button";
    this.open.setAttribute("aria-label", "Search");
    this.open.innerHTML = ICON;
    this.form = el("form", "iamkb-search__form");
    this.input = el("input", "iamkb-search__input");
    this.input.type = "search";
    this.input.placeholder = "Search or ask";
    this.input.autocomplete = "off";
    this.input.spellcheck = false;
    this.input.setAttribute("aria-label", "Search the knowledge base");
    this.input.setAttribute("role", "combobox");
    this.input.setAttribute("aria-autocomplete", "list");
    this.input.setAttribute("aria-expanded", "false");
    this.input.setAttribute("aria-controls", "iamkb-search-results");
    this.close = el("button", "iamkb-search__close", "\u00d7");
    this.close.type = "button";
    this.close.setAttribute("aria-label", "Close search");
    this.panel = el("div", "iamkb-search__panel");
    this.status = el("p", "iamkb-search__status");
    this.status.setAttribute("aria-live", "polite");
    this.list = el("ol", "iamkb-search__results");
    this.list.id = "iamkb-search-results";
    this.list.setAttribute("role", "listbox");
    this.list.setAttribute("aria-label", "Results");
    this.foot = el("p", "iamkb-search__engine");
    this.form.appendChild(this.input);
    this.form.appendChild(this.close);
    this.panel.appendChild(this.status);
    this.panel.appendChild(this.list);
    this.panel.appendChild(this.foot);
    this.root.appendChild(this.open);
    this.root.appendChild(this.form);
    this.root.appendChild(this.panel);
    header.insertBefore(this.root, header.querySelector(":scope > .md-header__source"));  // where Material's was
    this.active = -1;
    this.results = [];
    this.seq = 0;
    this.timer = null;

    this.open.addEventListener("click", function () { self.show(); });
    this.close.addEventListener("click", function () { self.hide(); });
    this.input.addEventListener("focus", function () { self.show(true); });
    this.input.addEventListener("input", function () { self.schedule(); });
    this.input.addEventListener("keydown", function (e) { self.key(e); });
    this.form.addEventListener("submit", function (e) { e.preventDefault(); self.go(self.active < 0 ? 0 : self.active); });
    document.addEventListener("click", function (e) {
      if (self.root.classList.contains("iamkb-search--open") && !self.root.contains(e.target)) self.hide();
    });
  }

  Box.prototype.show = function (focused) {
    this.root.classList.add("iamkb-search--open");
    window.iamkbSearch.warm();
    if (!focused) this.input.focus();
    if (this.results.length || this.status.textContent) this.expand(true);
  };

  Box.prototype.hide = function () {
    this.root.classList.remove("iamkb-search--open");
    this.expand(false);
    this.input.blur();
  };

  Box.prototype.expand = function (on) {
    this.panel.classList.toggle("iamkb-search__panel--shown", on);
    this.input.setAttribute("aria-expanded", on ? "true" : "false");
  };

  Box.prototype.schedule = function () {
    var self = this;
    clearTimeout(this.timer);
    this.timer = setTimeout(function () { self.run(); }, 60);
  };

  Box.prototype.run = function () {
    var self = this;
    var q = this.input.value.trim();
    var seq = ++this.seq;
    if (!q) {
      this.render(null);
      return;
    }
    if (!this.results.length) this.say("Searching\u2026");
    ask(q, LIMIT).then(function (out) {
      if (seq === self.seq) self.render(out, q);
    }, function (err) {
      if (seq === self.seq) self.fail(err);
    });
  };

  Box.prototype.say = function (text) {
    this.status.textContent = text;
    this.expand(true);
  };

  Box.prototype.fail = function (err) {
    this.results = [];
    this.list.replaceChildren();
    this.foot.textContent = "";
    this.say("Search is unavailable: " + err.message +
      ". This copy of the site may have been built without its search data (rebuild it with `make site`).");
  };

  // "Did you mean": a misspelt word the engine corrected, shown as the entity's own spelling when a result is
  // that entity; choosing it puts the correction in the box.
  Box.prototype.suggestion = function (out, q) {
    var fixes = out.corrections || {};
    var typed = Object.keys(fixes);
    if (!typed.length) return null;
    var words = typed.map(function (t) {
      var fixed = fixes[t];
      var named = out.results.find(function (r) {
        return r.kind !== "section" && r.kind !== "example" && r.title.toLowerCase().split(":").pop() === fixed;
      });
      return [t, named ? named.title : fixed];
    });
    var text = q;
    words.forEach(function (w) {
      text = text.replace(new RegExp(w[0].replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "i"), w[1]);
    });
    return text === q ? null : text;
  };

  Box.prototype.render = function (out, q) {
    var self = this;
    this.list.replaceChildren();
    this.active = -1;
    this.input.removeAttribute("aria-activedescendant");
    if (!out) {
      this.results = [];
      this.status.textContent = "";
      this.foot.textContent = "";
      this.expand(false);
      return;
    }
    this.results = out.results;
    this.status.replaceChildren();
    var better = this.suggestion(out, q);
    if (better) {
      this.status.appendChild(document.createTextNode("Did you mean "));
      var fix = el("a", "iamkb-search__fix", better);
      fix.href = "#";
      fix.addEventListener("click", function (e) {
        e.preventDefault();
        self.input.value = better;
        self.input.focus();
        self.run();
      });
      this.status.appendChild(fix);
      this.status.appendChild(document.createTextNode("?"));
    } else if (!out.results.length) {
      this.status.textContent = "Nothing found: try other words.";
    }
    out.results.forEach(function (r, i) {
      var item = el("li", "iamkb-search__result");
      item.setAttribute("role", "none");
      var link = el("a", "iamkb-search__link");  // the option itself: a link, so it opens in a new tab too
      link.id = "iamkb-search-result-" + i;
      link.setAttribute("role", "option");
      link.setAttribute("aria-selected", "false");
      link.href = fromRoot(r.url);
      link.tabIndex = -1;
      var head = el("span", "iamkb-search__head");
      head.appendChild(el("span", "iamkb-search__title", r.title));
      head.appendChild(el("span", "iamkb-search__kind", KIND_LABELS[r.kind] || r.kind));
      link.appendChild(head);
      var trail = r.path && r.path.length > 1 ? r.path.slice(0, -1) : null;
      if (trail) link.appendChild(el("span", "iamkb-search__path", trail.join(" \u203a ")));
      if (r.snippet) {
        var snip = el("span", "iamkb-search__snippet");
        snip.appendChild(snippetNodes(r.snippet));
        link.appendChild(snip);
      }
      item.appendChild(link);
      item.addEventListener("mousemove", function () { self.select(i); });
      self.list.appendChild(item);
    });
    this.foot.textContent = out.results.length ? "Ranked by " + out.label + "." : "";
    if (out.results.length) {
      var more = el("a", "iamkb-search__ask", "Ask this on the Ask page \u2192");
      more.href = fromRoot("ask/") + "#q=" + encodeURIComponent(q);
      this.foot.appendChild(document.createTextNode(" "));
      this.foot.appendChild(more);
    }
    this.expand(true);
  };

  Box.prototype.select = function (i) {
    var items = this.list.children;
    if (this.active >= 0 && items[this.active]) {
      items[this.active].classList.remove("iamkb-search__result--active");
      items[this.active].firstChild.setAttribute("aria-selected", "false");
    }
    this.active = i;
    if (i >= 0 && items[i]) {
      items[i].classList.add("iamkb-search__result--active");
      items[i].firstChild.setAttribute("aria-selected", "true");
      this.input.setAttribute("aria-activedescendant", items[i].firstChild.id);
      items[i].scrollIntoView({ block: "nearest" });
    } else {
      this.input.removeAttribute("aria-activedescendant");
    }
  };

  Box.prototype.go = function (i) {
    var r = this.results[i];
    if (!r) return;
    var link = this.list.children[i].querySelector("a");
    this.hide();
    link.click();
  };

  Box.prototype.key = function (e) {
    var n = this.results.length;
    if (e.key === "ArrowDown" && n) {
      e.preventDefault();
      this.select((this.active + 1) % n);
    } else if (e.key === "ArrowUp" && n) {
      e.preventDefault();
      this.select(this.active <= 0 ? n - 1 : this.active - 1);
    } else if (e.key === "Escape") {
      e.preventDefault();
      this.hide();
    }
  };

  var box = null;

  function setup() {
    var header = document.querySelector(".md-header__inner");
    if (!header || header.querySelector(".iamkb-search")) return;
    box = new Box(header);
  }

  // "/" or "s" focuses the box, as in Material, unless the reader is typing somewhere.
  document.addEventListener("keydown", function (e) {
    if (!box || e.ctrlKey || e.metaKey || e.altKey || (e.key !== "/" && e.key !== "s")) return;
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    e.preventDefault();
    box.show();
  });

  // Material's document$ fires on every instant navigation; set up on load as well (idempotent).
  if (typeof document$ !== "undefined") document$.subscribe(setup);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();

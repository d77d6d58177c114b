// The in-page search engine: `iamkb ask` (iamkb/search/retrieval.py, ranking.py and answer.py) run in the
// reader's browser over the data the site build exports (iamkb/search/static.py), with the static token
// vectors (tokenvectors.js) in place of the sentence vectors when the data has them, else lexically. Same query
// analysis (synonyms, spelling correction, question words dropped), same BM25F retrieval (Whoosh's bm25 of the
// exported term frequencies, field lengths and idf), same pools (the nearest sections in meaning among them),
// rerank, rules, features, learned ranker and answer parts, so the same question gives the same ranking as
// Python; the differential test (tests/test_search_static.py) runs every question of kb/questions.yml through
// both.
//
// Every number, word list, pattern and table comes from the data; this file holds the algorithm only. Each
// function names the Python function it follows; read them side by side.
//
// Works as a classic script (sets window.iamkbSearchEngine) and as a CommonJS module (node).
(function (root, factory) {
  "use strict";
  if (typeof module === "object" && module.exports) {
    module.exports = factory(require("./analysis.js"), require("./tokenvectors.js"));
  } else root.iamkbSearchEngine = factory(root.iamkbSearchAnalysis, root.iamkbSearchTokenVectors);
})(typeof self !== "undefined" ? self : this, function (A, TV) {
  "use strict";

  var FORMAT = 3;

  function pySum(values) {  // Python's sum() of floats (3.11): left to right from 0
    var s = 0;
    for (var i = 0; i < values.length; i++) s += values[i];
    return s;
  }

  function setOf(items) { return new Set(items); }

  function intersects(a, b) {
    var small = a.size <= b.size ? a : b;
    var large = small === a ? b : a;
    for (var x of small) if (large.has(x)) return true;
    return false;
  }

  function countIn(form, terms) {
    var n = 0;
    for (var x of form) if (terms.has(x)) n++;
    return n;
  }

  function sortedPy(items) { return items.slice().sort(A.pyCmp); }

  // (-score, id) ordering, as Python sorts candidates
  function byScoreThenId(a, b) {
    if (a.score !== b.score) return a.score > b.score ? -1 : 1;
    return A.pyCmp(a.hit.id, b.hit.id);
  }

  // --- the index ---------------------------------------------------------------------------------------------

  function Engine(data) {
    if (!data || data.format !== FORMAT) throw new Error("search data of another format (rebuild the site)");
    var c = data.constants;
    this.data = data;
    this.c = c;
    this.p = data.params;  // kb/search.yml, as the index was built with it (iamkb.search.params)
    this.analyzer = new A.Analyzer(c.analysis);
    this.kinds = data.kinds;
    this.entityKinds = setOf(c.ask.entity_kinds);
    var docs = data.docs;
    this.n = docs.id.length;
    this.docnumOf = new Map();
    for (var i = 0; i < this.n; i++) this.docnumOf.set(docs.id[i], i);
    this.entityDoc = new Uint8Array(this.n);
    for (i = 0; i < this.n; i++) if (this.entityKinds.has(this.kinds[docs.kind[i]])) this.entityDoc[i] = 1;
    this.boosts = Object.entries(this.p.ask_boosts);
    this.fields = {};
    var self = this;
    Object.keys(data.postings).forEach(function (f) { self.fields[f] = self._field(f, data.postings[f]); });
    this.vocab = data.vocabulary.words;
    this.vocabDf = new Map();
    for (i = 0; i < this.vocab.length; i++) this.vocabDf.set(this.vocab[i], data.vocabulary.df[i]);
    this.vocabCps = null;  // code points of each vocabulary word, and the words by length: made on the first
    this.vocabByLength = null;  // correction
    this.corrected = new Map();
    this.synonyms = new Map(data.synonyms);
    this.synRe = data.synonym_regex ? A.pyRegExp(data.synonym_regex, "g") : null;
    this.entities = new Map(Object.entries(data.entities));
    this.actionWords = new Map();
    var byFirst = new Map();
    Object.keys(data.action_words).forEach(function (id) {
      var words = data.action_words[id];
      self.actionWords.set(id, setOf(words));
      if (words.length) {
        var first = words.reduce(function (a, b) { return A.pyCmp(a, b) <= 0 ? a : b; });
        if (!byFirst.has(first)) byFirst.set(first, []);
        byFirst.get(first).push(id);
      }
    });
    this.actionsByWord = byFirst;
    this.questionWords = setOf(this.p.query.question_words);
    this.questionTerms = setOf(this.analyzer.analyze(this.p.query.question_words.join(" ")));
    this.idfTerms = new Map(Object.entries(data.idf.terms));
    this.idfOther = data.idf.other;
    var ask = c.ask;
    this.re = {
      howto: A.pyRegExp(ask.howto, ""), definition: A.pyRegExp(ask.definition, "y"),
      overview: A.pyRegExp(ask.overview, "y"), word: A.pyRegExp(ask.word, "g"),
      notWord: A.pyRegExp(ask.not_word, "g"), saysKind: {}
    };
    Object.keys(ask.says_kind).forEach(function (k) { self.re.saysKind[k] = A.pyRegExp(ask.says_kind[k], ""); });
    this.ranker = data.ranker;  // the learned ranker for the signals the data has (`space`)
    this.space = data.space;    // "static" (token vectors) or "lexical", as Engine.space says in Python
    this.vectors = data.static ? new TV.StaticSpace(data.static, docs.id) : null;
    this.weights = this.vectors ? this.p.weights : this.p.lexical_weights;  // as answer.ask chooses them
    this.sentenceCache = new Map();
  }

  // One field's postings: term -> [start, end) into its flat arrays of docnums and term frequencies.
  Engine.prototype._field = function (name, p) {
    var total = p.gaps.length;
    var docs = new Int32Array(total);
    var at = 0;
    var index = new Map();
    for (var t = 0; t < p.terms.length; t++) {
      var prev = -1;
      var start = at;
      for (var k = 0; k < p.df[t]; k++, at++) {
        prev += p.gaps[at];
        docs[at] = prev;
      }
      index.set(p.terms[t], [start, at]);
    }
    var bm = this.data.bm25;
    return { name: name, index: index, docs: docs, tf: p.tf, length: p.length, idf: bm.idf[name],
      b: bm.b[name], avgfl: bm.avgfl[name], scores: new Map() };
  };

  Engine.prototype.docFrequency = function (field, term) {
    var f = this.fields[field];
    var r = f && f.index.get(term);
    return r ? r[1] - r[0] : 0;
  };

  Engine.prototype.hasTerm = function (field, term) { return this.docFrequency(field, term) > 0; };

  // Engine.postings: a term's docnums and BM25F scores in one field, memoized. The score is
  // whoosh.scoring.bm25 of the same numbers Whoosh reads, in the same order of operations.
  Engine.prototype.postings = function (field, term) {
    var f = this.fields[field];
    var hit = f.scores.get(term);
    if (hit) return hit;
    var r = f.index.get(term);
    var out;
    if (!r) out = { docs: new Int32Array(0), scores: new Float64Array(0) };
    else {
      var n = r[1] - r[0];
      var idf = f.idf[String(n)];
      var K1 = this.data.bm25.k1;
      var B = f.b;
      var avgfl = f.avgfl;
      var docs = f.docs.subarray(r[0], r[1]);
      var scores = new Float64Array(n);
      for (var i = 0; i < n; i++) {
        var tf = f.tf[r[0] + i];
        var fl = f.length[docs[i]];
        scores[i] = idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl)));
      }
      out = { docs: docs, scores: scores };
    }
    f.scores.set(term, out);
    return out;
  };

  function holds(docs, d) {  // binary search in a term's docnums (ascending)
    var lo = 0;
    var hi = docs.length - 1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (docs[mid] === d) return true;
      if (docs[mid] < d) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  Engine.prototype.idf = function (term) {
    var v = this.idfTerms.get(term);
    return v === undefined ? this.idfOther : v;
  };

  Engine.prototype.hit = function (docnum, score) {
    var d = this.data.docs;
    return { id: d.id[docnum], kind: this.kinds[d.kind[docnum]], guide: d.guide[docnum], title: d.title[docnum],
      url: d.url[docnum], site: d.site[docnum], body: d.body[docnum], data: d.data[docnum], score: score,
      docnum: docnum };
  };

  Engine.prototype.document = function (ident) {
    var docnum = this.docnumOf.get(ident);
    return docnum === undefined ? null : this.hit(docnum, 0.0);
  };

  Engine.prototype.isContentWord = function (low) {
    return !this.analyzer.stops.has(low) && !this.questionWords.has(low);
  };

  // --- query building (engine.py) ---------------------------------------------------------------------------

  // Engine.correct: the nearest vocabulary word within the edits allowed, as rapidfuzz's extract finds them
  // (best distance first, ties in the vocabulary's order, the first `correction_candidates`), then the rules.
  // Memoized; only the vocabulary words whose length is within the edits allowed are compared.
  Engine.prototype.correct = function (word) {
    if (this.corrected.has(word)) return this.corrected.get(word);
    var fixed = this._correct(word);
    this.corrected.set(word, fixed);
    return fixed;
  };

  Engine.prototype._correct = function (word) {
    var q = this.c.query;
    var rules = this.p.query;
    var w = Array.from(word);
    if (w.length < rules.min_correct_len) return null;
    var short = w.length <= q.short_word_len;
    var cutoff = short ? q.max_edits_short : q.max_edits;
    if (!this.vocabByLength) {
      var byLength = [];
      this.vocabCps = this.vocab.map(function (v, i) {
        var cps = Array.from(v);
        (byLength[cps.length] = byLength[cps.length] || []).push(i);
        return cps;
      });
      this.vocabByLength = byLength;
    }
    var found = [];
    for (var len = Math.max(0, w.length - cutoff); len <= w.length + cutoff; len++) {
      var bucket = this.vocabByLength[len] || [];
      for (var k = 0; k < bucket.length; k++) {
        var i = bucket[k];
        var d = A.osa(w, this.vocabCps[i], cutoff);
        if (d <= cutoff) found.push([this.vocab[i], d, i]);
      }
    }
    found.sort(function (a, b) { return a[1] - b[1] || a[2] - b[2]; });
    found = found.slice(0, q.correction_candidates);
    var self = this;
    if (short) found = found.filter(function (m) { return self.vocabDf.get(m[0]) >= rules.short_word_min_df; });
    var first = w[0];
    found = found.filter(function (m) { return Array.from(m[0])[0] === first; });
    if (!found.length) return null;
    found.sort(function (a, b) {
      return a[1] - b[1] || self.vocabDf.get(b[0]) - self.vocabDf.get(a[0]) || A.pyCmp(a[0], b[0]);
    });
    return found[0][0];
  };

  Engine.prototype.known = function (word) {
    var low = word.toLowerCase();
    if (this.vocabDf.has(low) || this.synonyms.has(low)) return true;
    var terms = this.analyzer.analyze(low).slice(0, 1);
    for (var i = 0; i < terms.length; i++) if (this.hasTerm("body", terms[i]) || this.hasTerm("title", terms[i])) return true;
    return false;
  };

  Engine.prototype.correctionsOf = function (word) {
    var low = word.toLowerCase();
    if (!this.isContentWord(low) || this.known(low)) return null;
    var self = this;
    if (low.indexOf("-") >= 0) {
      var parts = low.split("-");
      var fixed = parts.map(function (p) {
        return !A.isAlpha(p) || self.known(p) ? p : (self.correct(p) || p);
      });
      return fixed.join("\u0000") !== parts.join("\u0000") ? fixed.join("-") : null;
    }
    if (!A.isAlpha(low)) return null;
    var f = this.correct(low);
    return f && f !== low ? f : null;
  };

  // Engine.parse
  Engine.prototype.parse = function (input) {
    var text = A.cpSlice(input, this.c.query.max_query_chars);
    var expansions = [];
    var self = this;
    if (this.synRe) {
      A.finditer(this.synRe, text.toLowerCase()).forEach(function (m) {
        Array.prototype.push.apply(expansions, self.synonyms.get(m[1]));
      });
    }
    var words = this.analyzer.compounds(text);
    var corrections = new Map();
    words.forEach(function (w) {
      var low = w.toLowerCase();
      if (corrections.has(low)) return;
      var fixed = self.correctionsOf(low);
      if (fixed) {
        corrections.set(low, fixed);
        Array.prototype.push.apply(expansions, self.synonyms.get(fixed) || []);
      }
    });
    var full = [text].concat(expansions, Array.from(corrections.values())).join(" ");
    var terms = this.analyzer.analyze(full).filter(function (t) { return !self.questionTerms.has(t); })
      .slice(0, this.c.query.max_terms);
    return { text: text, terms: terms, corrections: corrections, expansions: expansions, words: words };
  };

  // Engine.selective
  Engine.prototype.selective = function (terms, fields) {
    var total = Math.max(this.n, 1);
    var self = this;
    var df = new Map();
    terms.forEach(function (t) {
      df.set(t, pySum(fields.map(function (f) { return self.docFrequency(f, t); })));
    });
    var share = this.p.query.max_df_share;
    var keep = terms.filter(function (t) { return df.get(t) <= share * total; });
    if (keep.length) return keep;
    return terms.slice().sort(function (a, b) { return df.get(a) - df.get(b); }).slice(0, this.c.query.rarest_kept);
  };

  // Engine.top_docs: the best (score, docnum) pairs, ties by docnum.
  Engine.prototype.topDocs = function (terms, boosts, limit) {
    var total = new Float64Array(this.n);
    var found = new Uint8Array(this.n);
    var fields = boosts.map(function (b) { return b[0]; });
    var sel = this.selective(terms, fields);
    for (var t = 0; t < sel.length; t++) {
      for (var k = 0; k < boosts.length; k++) {
        var p = this.postings(boosts[k][0], sel[t]);
        var boost = boosts[k][1];
        for (var i = 0; i < p.docs.length; i++) {
          total[p.docs[i]] += boost * p.scores[i];
          found[p.docs[i]] = 1;
        }
      }
    }
    var docs = [];
    for (var d = 0; d < this.n; d++) if (found[d]) docs.push(d);
    docs.sort(function (a, b) { return total[b] - total[a] || a - b; });
    return docs.slice(0, limit).map(function (d) { return [total[d], d]; });
  };

  // --- ask (answer.py) ---------------------------------------------------------------------------------------

  // _word_forms
  Engine.prototype.wordForms = function (word, credit, drop) {
    var terms = this.analyzer.analyze(word).filter(function (t) { return !drop.has(t); });
    if (!terms.length) return [];
    if (terms.length === 1) return [[setOf(terms), credit]];
    return [[setOf(terms.slice(0, 1)), credit], [setOf(terms.slice(1)), credit]];
  };

  // _phrase_synonyms
  Engine.prototype.phraseSynonyms = function (text) {
    var out = new Map();
    var self = this;
    if (!this.synRe) return out;
    A.finditer(this.synRe, text.toLowerCase()).forEach(function (m) {
      A.split(m[1]).forEach(function (word) {
        if (!out.has(word)) out.set(word, []);
        Array.prototype.push.apply(out.get(word), self.synonyms.get(m[1]));
      });
    });
    return out;
  };

  // answer._words
  Engine.prototype.words = function (text) {
    this.re.notWord.lastIndex = 0;
    return " " + A.strip(text.toLowerCase().replace(this.re.notWord, " ")) + " ";
  };

  Engine.prototype.phraseTerm = function (expansion) { return this.c.ask.phrase + A.strip(this.words(expansion)); };

  Engine.prototype.phrasesIn = function (text, phrases) {
    var out = new Set();
    if (!phrases.size) return out;
    var w = this.words(text);
    var plen = this.c.ask.phrase.length;
    phrases.forEach(function (p) { if (w.indexOf(" " + p.slice(plen)) >= 0) out.add(p); });
    return out;
  };

  function unitTerms(u) {
    var s = new Set();
    u.forms.forEach(function (f) { f[0].forEach(function (t) { s.add(t); }); });
    return s;
  }

  // Unit.match
  function unitMatch(u, terms, partial) {
    var best = 0.0;
    var any = false;
    for (var i = 0; i < u.forms.length; i++) {
      var form = u.forms[i][0];
      var v = u.forms[i][1] * Math.pow(countIn(form, terms) / form.size, partial);
      if (!any || v > best) { best = v; any = true; }
    }
    return best;
  }

  // coverage
  function coverage(terms, units, partial) {
    var total = pySum(units.map(function (u) { return u.weight; }));
    if (!total) return 0.0;
    return pySum(units.map(function (u) { return u.weight * unitMatch(u, terms, partial); })) / total;
  }

  // units
  Engine.prototype.units = function (query, weights) {
    var drop = this.questionTerms;
    var synonyms = this.phraseSynonyms(query.text);
    var out = [];
    var seen = new Set();
    var self = this;
    query.words.forEach(function (w) {
      var low = w.toLowerCase();
      if (!self.isContentWord(low) || seen.has(low)) return;
      seen.add(low);
      var forms = self.wordForms(w, 1.0, drop);
      var fixed = query.corrections.get(low);
      if (fixed) forms = forms.concat(self.wordForms(fixed, 1.0, drop));
      var exps = (synonyms.get(low) || []).concat(fixed ? (self.synonyms.get(fixed) || []) : []);
      exps.forEach(function (expansion) {
        var terms = setOf(self.analyzer.analyze(expansion).filter(function (t) { return !drop.has(t); }));
        if (terms.size > 1) terms = setOf([self.phraseTerm(expansion)]);
        if (terms.size) forms.push([terms, weights.synonym]);
      });
      if (forms.length) {
        var weight = 1.0;
        if (weights.idf) {
          var first = Array.from(forms[0][0]).map(function (t) { return self.idf(t); });
          weight = first.reduce(function (a, b) { return b > a ? b : a; });
        }
        out.push({ word: low, forms: forms, weight: weight });
      }
    });
    return out;
  };

  // named_entities
  Engine.prototype.namedEntities = function (query) {
    var found = [];
    var self = this;
    query.words.forEach(function (word) {
      var bare = A.stripChars(word, "${}");
      var low = bare.toLowerCase();
      var fixed = query.corrections.get(word.toLowerCase());
      var names = [low, fixed];
      for (var i = 0; i < names.length; i++) {
        var ids = self.entities.get(names[i] || "");
        if (!ids || !ids.length) continue;
        var upper = Array.from(bare).filter(A.isUpper).length;
        var camel = upper >= 2 || bare.indexOf(":") >= 0;
        if (camel || ids[0].startsWith("managed_policy:")) {
          if (found.indexOf(ids[0]) < 0) found.push(ids[0]);
          break;
        }
      }
    });
    var lowered = query.words.map(function (w) { return A.stripChars(w, "${}").toLowerCase(); });
    var text = query.text.toLowerCase();
    for (var i = 0; i + 1 < lowered.length; i++) {
      var key = lowered[i] + ":" + lowered[i + 1];
      var ids = (this.entities.get(key) || []).slice(0, 1);
      var kind = ids.length ? ids[0].split(":")[0] : "";
      if (ids.length && found.indexOf(ids[0]) < 0 && this.re.saysKind[kind] && this.re.saysKind[kind].test(text)) {
        found.push(ids[0]);
      }
    }
    return found;
  };

  // retrieve
  Engine.prototype.retrieve = function (query) {
    if (!query.terms.length) return { hits: [], depth: new Map() };
    var pools = this.p.pools;
    var top = this.topDocs(query.terms, this.boosts, pools.depth);
    var keep = [];
    var nDocs = 0;
    var nEntities = 0;
    for (var i = 0; i < top.length; i++) {
      if (this.entityDoc[top[i][1]]) {
        if (nEntities < pools.retrieve_entities) { nEntities++; keep.push(top[i]); }
      } else if (nDocs < pools.retrieve) { nDocs++; keep.push(top[i]); }
    }
    var depth = new Map();
    top.forEach(function (p) { depth.set(p[1], p[0]); });
    var self = this;
    return { hits: keep.map(function (p) { return self.hit(p[1], p[0]); }), depth: depth };
  };

  // pooled
  Engine.prototype.pooled = function (ids, depth) {
    var floor = depth.size ? Math.min.apply(null, Array.from(depth.values())) : 0.0;
    var self = this;
    return ids.map(function (i) { return self.document(i); }).filter(function (d) { return d !== null; })
      .map(function (d) {
        d.score = depth.has(d.docnum) ? depth.get(d.docnum) : floor;
        return d;
      });
  };

  // said_actions
  Engine.prototype.saidActions = function (query) {
    var self = this;
    var content = query.words.filter(function (w) { return self.isContentWord(w.toLowerCase()); });
    var typed = content.map(function (w) { return query.corrections.get(w.toLowerCase()) || w; });
    var ws = setOf(this.analyzer.analyze(content.concat(typed).join(" ")));
    for (var i = 0; i + 1 < typed.length; i++) this.analyzer.analyze(typed[i] + typed[i + 1]).forEach(function (t) { ws.add(t); });
    var said = [];
    sortedPy(Array.from(ws)).forEach(function (w) {
      (self.actionsByWord.get(w) || []).forEach(function (id) {
        var aw = self.actionWords.get(id);
        if (aw.size > 1 && Array.from(aw).every(function (t) { return ws.has(t); })) said.push(id);
      });
    });
    var longest = said.filter(function (i) {
      var ai = self.actionWords.get(i);
      return !said.some(function (j) {
        var aj = self.actionWords.get(j);
        return ai.size < aj.size && Array.from(ai).every(function (t) { return aj.has(t); });
      });
    });
    var home = "action:" + this.c.ask.home_guide + ":";
    longest.sort(function (a, b) {
      var ha = a.startsWith(home) ? 0 : 1;
      var hb = b.startsWith(home) ? 0 : 1;
      return ha - hb || self.actionWords.get(b).size - self.actionWords.get(a).size || A.pyCmp(a, b);
    });
    return longest.slice(0, this.p.pools.said_actions);
  };

  // neighbours: the sections nearest in meaning that lexical retrieval left out
  Engine.prototype.neighbours = function (hits, depth, q) {
    var have = setOf(hits.map(function (h) { return h.id; }));
    var ids = this.vectors.nearest(q, this.p.pools.neighbours, function (i) {
      return !have.has(i) && i.indexOf("#") >= 0 && i.indexOf(":") < 0;
    });
    return this.pooled(ids, depth);
  };

  // candidates
  Engine.prototype.candidates = function (query, named, units) {
    var r = this.retrieve(query);
    var hits = r.hits;
    var q = this.vectors ? this.vectors.questionVector(query.text) : null;
    if (q !== null) hits = hits.concat(this.neighbours(hits, r.depth, q));
    var said = this.saidActions(query);
    var have = setOf(hits.map(function (h) { return h.id; }));
    hits = hits.concat(this.pooled(said.filter(function (i) { return !have.has(i); }), r.depth));
    var out = this.gather(query, hits, named, units);
    var saidSet = setOf(said);
    out.forEach(function (c) { c.said = saidSet.has(c.hit.id); });
    if (q !== null) {
      var ids = out.map(function (c) { return c.hit.id; });
      var sims = this.vectors.similarities(q, ids);
      var passages = this.vectors.passageSimilarities(q, ids);
      out.forEach(function (c) {
        c.similarity = sims.has(c.hit.id) ? sims.get(c.hit.id) : 0.0;
        c.passageSimilarity = passages.has(c.hit.id) ? passages.get(c.hit.id) : null;
      });
    }
    return out;
  };

  function candidate(hit) {
    return { hit: hit, score: 0.0, matched: new Set(), heading: new Set(), examples: [], said: false,
      askedTerms: new Set(), asked: 0.0, passageCoverage: 0.0, coverage: 0.0, textCoverage: 0.0,
      headingCoverage: 0.0, titlePrecision: 0.0, overview: false, learned: null, similarity: 0.0,
      passageSimilarity: null };
  }

  // Engine.term_docs
  Engine.prototype.termDocs = function (terms, fields, docnums) {
    var wanted = Array.from(setOf(docnums));
    var out = new Map();
    var self = this;
    terms.forEach(function (term) {
      var s = new Set();
      fields.forEach(function (f) {
        var r = self.fields[f].index.get(term);
        if (!r) return;
        var docs = self.fields[f].docs.subarray(r[0], r[1]);
        wanted.forEach(function (d) { if (holds(docs, d)) s.add(d); });
      });
      out.set(term, s);
    });
    return out;
  };

  // gather
  Engine.prototype.gather = function (query, hits, named, units) {
    var ask = this.c.ask;
    var byId = new Map();
    var self = this;
    hits.forEach(function (h) {
      if (h.kind === "example") {
        var section = h.data.section;
        if (!section) return;
        var cand = byId.get(section);
        if (!cand) {
          var doc = self.document(section);
          if (!doc) return;
          cand = candidate(doc);
          byId.set(section, cand);
        }
        cand.hit.score = Math.max(cand.hit.score, h.score * self.p.rules.example_share);
        cand.examples.push([h.score, h.id]);
        return;
      }
      var c = byId.get(h.id);
      if (!c) byId.set(h.id, candidate(h));
      else c.hit = Object.assign({}, h, { score: Math.max(h.score, c.hit.score) });
    });
    named.forEach(function (ident) {
      if (!byId.has(ident)) {
        var doc = self.document(ident);
        if (doc) byId.set(ident, candidate(doc));
      }
    });
    var all = new Set();
    units.forEach(function (u) { unitTerms(u).forEach(function (t) { all.add(t); }); });
    var allTerms = sortedPy(Array.from(all));
    var cands = Array.from(byId.values());
    var docFields = this.boosts.map(function (b) { return b[0]; }).filter(function (f) { return f !== ask.asked_field; });
    var docsOf = this.termDocs(allTerms, docFields,
      cands.map(function (c) { return c.hit.docnum; }).concat(hits.map(function (h) { return h.docnum; })));
    var phrases = setOf(allTerms.filter(function (t) { return t.startsWith(ask.phrase); }));
    cands.forEach(function (c) {
      c.matched = new Set();
      docsOf.forEach(function (docs, t) { if (docs.has(c.hit.docnum)) c.matched.add(t); });
      var heading = (c.hit.data.path && c.hit.data.path.length ? c.hit.data.path : [c.hit.title]).join(" / ");
      c.heading = setOf(self.analyzer.analyze(heading));
      self.phrasesIn(heading, phrases).forEach(function (p) { c.heading.add(p); });
      c.heading.forEach(function (t) { if (phrases.has(t)) c.matched.add(t); });
      self.phrasesIn(c.hit.title + "\n" + c.hit.body, phrases).forEach(function (p) { c.matched.add(p); });
    });
    hits.forEach(function (h) {
      if (h.kind === "example" && byId.has(h.data.section)) {
        var c = byId.get(h.data.section);
        docsOf.forEach(function (docs, t) { if (docs.has(h.docnum)) c.matched.add(t); });
      }
    });
    var askedBy = this.termDocs(allTerms, [ask.asked_field], cands.map(function (c) { return c.hit.docnum; }));
    cands.forEach(function (c) {
      c.askedTerms = new Set();
      askedBy.forEach(function (docs, t) { if (docs.has(c.hit.docnum)) c.askedTerms.add(t); });
    });
    return cands;
  };

  // sentence_terms
  Engine.prototype.sentenceTerms = function (text) {
    var hit = this.sentenceCache.get(text);
    if (hit) return hit;
    var self = this;
    hit = this.analyzer.sentences(text).map(function (s) { return [s, setOf(self.analyzer.analyze(s))]; });
    if (this.sentenceCache.size > 4096) this.sentenceCache.clear();
    this.sentenceCache.set(text, hit);
    return hit;
  };

  // passage_coverage
  Engine.prototype.passageCoverage = function (c, units, partial) {
    if (c.hit.kind !== "section" || !units.length) return c.coverage;
    var asked = new Set();
    units.forEach(function (u) { unitTerms(u).forEach(function (t) { asked.add(t); }); });
    function keep(terms) {
      var s = new Set();
      terms.forEach(function (t) { if (asked.has(t)) s.add(t); });
      return s;
    }
    var said = this.sentenceTerms(c.hit.body).map(function (p) { return keep(p[1]); });
    var heading = keep(c.heading);
    var windows = [];
    for (var i = 0; i < said.length; i++) {
      var w = new Set(heading);
      said[i].forEach(function (t) { w.add(t); });
      if (i + 1 < said.length) said[i + 1].forEach(function (t) { w.add(t); });
      windows.push(w);
    }
    if (!windows.length) windows.push(heading);
    var best = null;
    windows.forEach(function (w) {
      var v = coverage(w, units, partial);
      if (best === null || v > best) best = v;
    });
    return best;
  };

  Engine.prototype.isOverview = function (hit) {
    return hit.kind === "section" && (hit.data.level === 1 || A.pyMatch(this.re.overview, hit.title) !== null);
  };

  // rerank (without vectors every similarity is 0: the semantic factor is 1)
  Engine.prototype.rerank = function (query, candidates, named, units) {
    if (!candidates.length) return [];
    var w = this.weights;
    var self = this;
    var top = Math.max.apply(null, candidates.map(function (c) { return c.hit.score; })) || 1.0;
    var questionTerms = setOf(query.terms);
    var definition = A.pyMatch(this.re.definition, query.text) !== null;
    candidates.forEach(function (c) {
      var titleTerms = setOf(self.analyzer.analyze(c.hit.title));
      var both = new Set(c.matched);
      c.askedTerms.forEach(function (t) { both.add(t); });
      c.textCoverage = coverage(c.matched, units, w.partial);
      c.coverage = coverage(both, units, w.partial);
      c.headingCoverage = coverage(c.heading, units, w.partial);
      c.asked = coverage(c.askedTerms, units, w.partial);
      c.titlePrecision = titleTerms.size ? countIn(titleTerms, questionTerms) / titleTerms.size : 0.0;
      c.overview = definition && self.isOverview(c.hit);
      var kind = self.entityKinds.has(c.hit.kind) ? w.entity : 1.0;
      if (c.overview) kind *= 1.0 + w.definition;
      c.score = Math.pow(c.hit.score / top, w.bm25_power) * (w.cover_base + c.coverage)
        * (1.0 + w.heading_cover * c.headingCoverage + w.title_precision * c.titlePrecision)
        * kind * Math.exp(w.semantic * c.similarity);
    });
    var ranked = candidates.slice().sort(byScoreThenId);
    if (named.length) ranked = this.placeNamed(query, ranked, named, units);
    if (w.specific_top) ranked = this.preferSpecific(ranked, w.specific_top);
    var depth = this.p.pools.proximity_depth;
    ranked.slice(0, depth).forEach(function (c) { c.passageCoverage = self.passageCoverage(c, units, w.partial); });
    return ranked;
  };

  Engine.prototype.entityIdsOf = function (name) {
    return (this.entities.get(name) || []).slice(0, 1);
  };

  // place_named
  Engine.prototype.placeNamed = function (query, ranked, named, units) {
    var rules = this.p.rules;
    var wanted = setOf(named);
    var self = this;
    var own = new Set();
    query.words.forEach(function (w) {
      var a = self.entityIdsOf(A.stripChars(w, "${}").toLowerCase());
      var b = self.entityIdsOf(query.corrections.get(w.toLowerCase()) || "");
      if (a.concat(b).some(function (i) { return wanted.has(i); })) {
        self.analyzer.analyze(w).forEach(function (t) { own.add(t); });
      }
    });
    var extra = units.filter(function (u) { return !intersects(unitTerms(u), own); })
      .map(function (u) { return { word: u.word, forms: u.forms, weight: 1.0 }; });
    var byId = new Map(ranked.map(function (c) { return [c.hit.id, c]; }));
    var lifted = ranked[0].score * rules.named_lift;
    var best = 0.0;
    ranked.forEach(function (c) { if (!self.entityKinds.has(c.hit.kind) && c.score > best) best = c.score; });
    named.forEach(function (ident) {
      var c = byId.get(ident);
      if (!c) return;
      if (extra.length <= rules.entity_centric_extra && self.saysTheRest(c.hit, extra)) c.score = Math.max(c.score, lifted);
      else if (best) c.score = best * rules.named_below_best;
    });
    return ranked.slice().sort(byScoreThenId);
  };

  // says_the_rest
  Engine.prototype.saysTheRest = function (entity, extra) {
    if (!extra.length) return true;
    var text = [entity.title, entity.body, entity.data.answer || ""].join(" ");
    return coverage(setOf(this.analyzer.analyze(text)), extra, this.c.ask.says_the_rest_partial)
      >= this.p.rules.entity_says_the_rest;
  };

  // prefer_specific
  Engine.prototype.preferSpecific = function (ranked, depth) {
    var ask = this.c.ask;
    var head = ranked.slice(0, depth);
    var byId = new Map(head.map(function (c) { return [c.hit.id, c]; }));
    var heading = new Map(head.map(function (c) { return [c.hit.id, c.headingCoverage]; }));
    var changed = false;
    for (var pass = 0; pass < ask.specific_passes; pass++) {
      head.forEach(function (low) {
        (low.hit.data.ancestors || []).forEach(function (ident) {
          var high = byId.get(ident);
          if (high && heading.get(low.hit.id) > heading.get(ident) + ask.specific_margin && low.score <= high.score) {
            low.score = high.score + ask.specific_step * low.score;
            changed = true;
          }
        });
      });
    }
    return changed ? ranked.slice().sort(byScoreThenId) : ranked;
  };

  // features.feature_rows and ranking.apply
  function ranks(values) {
    var order = values.map(function (_, i) { return i; });
    order.sort(function (a, b) { return values[b] - values[a] || a - b; });
    var out = new Array(values.length);
    order.forEach(function (i, rank) { out[i] = 1.0 / (1 + rank); });
    return out;
  }

  Engine.prototype.featureRows = function (ranked, features) {
    if (!ranked.length) return [];
    var L = this.c.features;
    var self = this;
    var top = Math.max.apply(null, ranked.map(function (c) { return c.hit.score; })) || 1.0;
    var similarity = ranked.map(function (c) { return c.similarity; });
    var passage = ranked.map(function (c) { return c.passageSimilarity !== null ? c.passageSimilarity : c.similarity; });
    var columns = {
      rerank: ranked.map(function (c) { return Math.log(Math.max(c.score, L.log_floor)); }),
      bm25: ranked.map(function (c) { return Math.log(c.hit.score / top + L.bm25_floor); }),
      coverage: ranked.map(function (c) { return c.coverage; }),
      heading: ranked.map(function (c) { return c.headingCoverage; }),
      title: ranked.map(function (c) { return c.titlePrecision; }),
      entity: ranked.map(function (c) { return self.entityKinds.has(c.hit.kind) ? 1.0 : 0.0; }),
      overview: ranked.map(function (c) { return c.overview ? 1.0 : 0.0; }),
      similarity: similarity,
      passage: passage,
      passage_rank: ranks(passage),
      similarity_rank: ranks(similarity),
      home_guide: ranked.map(function (c) { return c.hit.guide === self.c.ask.home_guide ? 1.0 : 0.0; }),
      position: ranked.map(function (_, i) { return 1.0 / (1 + i); }),
      said: ranked.map(function (c) { return c.said ? 1.0 : 0.0; }),
      level: ranked.map(function (c) { return c.hit.kind === "section" ? 1.0 / (c.hit.data.level || 1) : 0.0; }),
      proximity_rank: ranks(ranked.map(function (c) { return c.passageCoverage; })),
      asked: ranked.map(function (c) { return c.asked; })
    };
    return ranked.map(function (_, i) {
      return features.map(function (f) {
        if (!columns[f]) throw new Error("the ranker reads a feature this engine does not have: " + f);
        return columns[f][i];
      });
    });
  };

  Engine.prototype.applyRanker = function (ranked) {
    var r = this.ranker;
    var rows = this.featureRows(ranked, r.features);
    var scores = rows.map(function (row) {
      var s = 0;
      for (var k = 0; k < row.length; k++) s += r.weights[k] * (row[k] - r.mean[k]) / r.scale[k];
      return s;
    });
    var order = scores.map(function (_, i) { return i; });
    order.sort(function (a, b) { return scores[b] - scores[a] || a - b; });
    var top = Math.max.apply(null, scores);
    var mass = scores.map(function (s) { return Math.exp(s - top); });
    var total = pySum(mass);
    order.forEach(function (i) { ranked[i].learned = mass[i] / total; });
    return order.map(function (i) { return ranked[i]; });
  };

  // named_before_namesakes
  Engine.prototype.namedBeforeNamesakes = function (ranked, named) {
    var self = this;
    var first = ranked.findIndex(function (c) { return named.indexOf(c.hit.id) >= 0; });
    if (first < 0) return ranked;
    var above = ranked.slice(0, first).filter(function (c) {
      return self.entityKinds.has(c.hit.kind) && named.indexOf(c.hit.id) < 0;
    });
    if (!above.length) return ranked;
    var moved = setOf(above.map(function (c) { return c.hit.id; }));
    return ranked.slice(0, first + 1).filter(function (c) { return !moved.has(c.hit.id); })
      .concat(above, ranked.slice(first + 1));
  };

  // key_sentences
  Engine.prototype.keySentences = function (text, terms, limit) {
    limit = limit === undefined ? this.c.ask.quote_sentences : limit;
    var analyzed = this.sentenceTerms(text);
    if (!analyzed.length) return [];
    var scored = analyzed.map(function (p, i) { return [countIn(p[1], terms), i, p[0]]; });
    scored.sort(function (a, b) { return b[0] - a[0] || a[1] - b[1]; });
    var best = scored.slice(0, limit);
    if (best[0][0] === 0) return [analyzed[0][0]];
    return best.filter(function (b) { return b[0] > 0; }).sort(function (a, b) { return a[1] - b[1]; })
      .map(function (b) { return b[2]; });
  };

  // highlight: HTML-escaped text, the words that match the question's terms in <mark>
  Engine.prototype.highlight = function (sentence, terms, limit) {
    limit = limit === undefined ? this.c.ask.snippet_chars : limit;
    var cut = A.cpSlice(sentence, limit);
    sentence = cut + (A.cpLength(sentence) > limit ? "\u2026" : "");
    var mark = this.c.ask.highlight;
    var out = [];
    var pos = 0;
    var self = this;
    A.finditer(this.re.word, sentence).forEach(function (m) {
      out.push(A.escapeHtml(sentence.slice(pos, m.index)));
      var word = m[0];
      var core = A.stripChars(word, ".,;:()[]\"'");
      var hit = Boolean(core) && self.analyzer.analyze(core).some(function (t) { return terms.has(t); });
      out.push(hit ? mark[0] + A.escapeHtml(word) + mark[1] : A.escapeHtml(word));
      pos = m.index + word.length;
    });
    out.push(A.escapeHtml(sentence.slice(pos)));
    return out.join("");
  };

  Engine.prototype.snippet = function (c, terms) {
    if (this.entityKinds.has(c.hit.kind) && c.hit.data.answer) return this.highlight(c.hit.data.answer, terms);
    return this.highlight(this.keySentences(c.hit.body, terms).join(" "), terms);
  };

  // _example_code
  Engine.prototype.exampleCode = function (c) {
    var ids = c.examples.slice().sort(function (a, b) { return b[0] - a[0] || A.pyCmp(b[1], a[1]); })
      .map(function (e) { return e[1]; });
    if (!ids.length) ids = (c.hit.data.examples || []).slice();
    for (var i = 0; i < ids.length; i++) {
      var doc = this.document(ids[i]);
      if (doc && doc.data.code) return [ids[i], doc.data.code];
    }
    return null;
  };

  Engine.prototype.titleOf = function (ident) {
    var doc = this.document(ident);
    return doc ? doc.title : ident;
  };

  // compose: the answer's parts (iamkb.search.answer.Answer.parts) and its citations
  Engine.prototype.compose = function (question, query, ranked, named) {
    var ask = this.c.ask;
    var rules = this.p.rules;
    var terms = setOf(query.terms);
    var self = this;
    var out = { declined: false, facts: [], quote: null, example: null, summary: null, closest: null };
    var bestCov = 0.0;
    ranked.forEach(function (c) { if (c.textCoverage > bestCov) bestCov = c.textCoverage; });
    if (!ranked.length || (!named.length && bestCov < rules.min_coverage)) {
      var t0 = ranked.length ? ranked[0].hit : null;
      out.declined = true;
      out.closest = t0 ? { id: t0.id, title: t0.title, url: t0.url } : null;
      return { parts: out, citations: [] };
    }
    var cited = [];
    named.slice(0, ask.answer_entities).forEach(function (ident) {
      var c = ranked.find(function (x) { return x.hit.id === ident; });
      var doc = c ? c.hit : null;
      if (doc && doc.data.answer) {
        out.facts.push({ id: doc.id, text: doc.data.answer });
        cited.push([doc.id, doc.url]);
        (doc.data.sources || []).slice(0, ask.answer_sources).forEach(function (s) { cited.push([s.id, s.url]); });
      }
    });
    var section = ranked.slice(0, ask.answer_section_depth).find(function (c) { return c.hit.kind === "section"; });
    if (section && !(named.length && this.entityKinds.has(ranked[0].hit.kind) && section !== ranked[0]
                     && section.score < ranked[0].score * rules.quote_beside_entity)) {
      var quote = this.keySentences(section.hit.body, terms).join(" ");
      if (quote) {
        out.quote = { id: section.hit.id, title: section.hit.title, url: section.hit.url, text: quote };
        cited.push([section.hit.id, section.hit.url]);
      }
      this.re.howto.lastIndex = 0;
      if (this.re.howto.test(question)) {
        var example = this.exampleCode(section);
        if (example) {
          out.example = { id: example[0], section: section.hit.id, code: A.strip(example[1]) };
          cited.push([example[0], section.hit.url]);
        }
      }
    } else if (!out.facts.length) {
      var top = ranked[0].hit;
      out.summary = { id: top.id, title: top.title,
        text: top.data.answer || this.keySentences(top.body, terms).join(" ") };
      cited.push([top.id, top.url]);
    }
    var seen = new Map();
    cited.forEach(function (c) { if (!seen.has(c[0])) seen.set(c[0], c[1]); });
    var citations = Array.from(seen.entries()).map(function (e) {
      var hit = ranked.find(function (c) { return c.hit.id === e[0]; });
      return { id: e[0], title: hit ? hit.hit.title : self.titleOf(e[0]), url: e[1] };
    });
    return { parts: out, citations: citations };
  };

  // iamkb.callhint.hint: a pointer to the whole-call check for a "why is this call denied" question
  Engine.prototype.hint = function (question) {
    var h = this.c.hint;
    var re = this.hintRe || (this.hintRe = {
      denied: A.pyRegExp(h.denied, ""), fails: A.pyRegExp(h.fails, ""), permission: A.pyRegExp(h.permission, ""),
      call: A.pyRegExp(h.call, "") });
    var failing = re.denied.test(question) || (re.fails.test(question) && re.permission.test(question));
    if (!(failing && re.call.test(question))) return null;
    return { message: h.message, command: h.command, url: h.url };
  };

  // The site page of a result (root-relative), or its upstream page when the site has none.
  Engine.prototype.siteUrl = function (ident) {
    var docnum = this.docnumOf.get(ident);
    return docnum === undefined ? "" : this.data.docs.site[docnum];
  };

  function round4(x) { return Number(x.toFixed(4)); }

  // ask: the ranked results and the answer's parts, as `iamkb ask --json` gives them (with site_url added).
  Engine.prototype.ask = function (question, options) {
    var limit = (options && options.limit) || 10;
    var query = this.parse(question);
    var named = this.namedEntities(query);
    var units = this.units(query, this.weights);
    var pool = this.candidates(query, named, units);
    var ranked = this.rerank(query, pool, named, units);
    if (this.ranker && ranked.length) ranked = this.applyRanker(ranked);
    ranked = this.namedBeforeNamesakes(ranked, named);
    var terms = setOf(query.terms);
    var self = this;
    var results = ranked.slice(0, limit).map(function (c) {
      return { id: c.hit.id, kind: c.hit.kind, title: c.hit.title, url: c.hit.url, site_url: c.hit.site,
        score: round4(c.learned !== null ? c.learned : c.score), snippet: self.snippet(c, terms),
        path: c.hit.data.path || null, section: c.hit.data.section || null };
    });
    var answer = this.compose(question, query, ranked, named);
    answer.citations.forEach(function (c) { c.site_url = self.siteUrl(c.id); });
    return { question: question, results: results, parts: answer.parts, citations: answer.citations,
      corrections: Object.fromEntries(query.corrections), named: named, ranking: this.space,
      hint: this.hint(question) };
  };

  return { Engine: Engine, FORMAT: FORMAT, coverage: coverage };
});

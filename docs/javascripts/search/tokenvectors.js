// The in-page engine's semantic signal: the static token vectors of iamkb/search/tokenvectors.py (distilled
// from the same MiniLM that gives `iamkb ask` its sentence vectors) and BERT's WordPiece tokenizer
// (iamkb/search/embed.py: normalize, pre_tokenize, WordPiece.word_ids), read side by side with the Python.
//
// A question's vector is its tokens' weighted sum, added token by token in float64 as Python adds it, then
// rounded to integers; the documents' rows are int8; a cosine is an integer dot product divided by the product
// of two square roots. Every step is exact or correctly rounded, so the page and Python get the same numbers.
//
// Works as a classic script (sets window.iamkbSearchTokenVectors) and as a CommonJS module (node's tests).
(function (root, factory) {
  "use strict";
  if (typeof module === "object" && module.exports) module.exports = factory(require("./analysis.js"));
  else root.iamkbSearchTokenVectors = factory(root.iamkbSearchAnalysis);
})(typeof self !== "undefined" ? self : this, function (A) {
  "use strict";

  var ZS = /^\p{Zs}$/u, OTHER = /^\p{C}$/u, MARK = /^\p{Mn}$/u, PUNCT = /^\p{P}$/u;

  function isCjk(cp) {  // embed._is_cjk
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
      || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF)
      || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
  }

  function isPunct(ch) {  // embed._is_punct
    var cp = ch.codePointAt(0);
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
      return true;
    }
    return PUNCT.test(ch);
  }

  // embed.normalize: controls dropped, whitespace to spaces, CJK characters as words, lowercase, accents
  // stripped (NFD, combining marks dropped)
  function normalize(text) {
    var out = [];
    for (var ch of text) {
      var cp = ch.codePointAt(0);
      if (cp === 0 || cp === 0xFFFD) continue;
      if (ch === "\t" || ch === "\n" || ch === "\r" || ZS.test(ch)) out.push(" ");
      else if (OTHER.test(ch)) continue;
      else if (isCjk(cp)) out.push(" " + ch + " ");
      else out.push(ch);
    }
    var lowered = out.join("").toLowerCase().normalize("NFD");
    var kept = [];
    for (var c of lowered) if (!MARK.test(c)) kept.push(c);
    return kept.join("");
  }

  // embed.pre_tokenize: words split on whitespace, each punctuation character a word of its own
  function preTokenize(text) {
    var words = [];
    A.split(text).forEach(function (chunk) {
      var current = "";
      for (var ch of chunk) {
        if (isPunct(ch)) {
          if (current) { words.push(current); current = ""; }
          words.push(ch);
        } else current += ch;
      }
      if (current) words.push(current);
    });
    return words;
  }

  // embed.WordPiece.word_ids: greedy longest match first, "##" before a piece inside the word; a word longer
  // than maxChars (embed.MAX_WORD_CHARS) is [UNK]
  function wordIds(vocab, unk, word, maxChars) {
    var cps = Array.from(word);
    if (cps.length > maxChars) return [unk];
    var ids = [];
    var start = 0;
    while (start < cps.length) {
      var end = cps.length;
      var found = -1;
      while (end > start) {
        var piece = (start === 0 ? "" : "##") + cps.slice(start, end).join("");
        if (vocab.has(piece)) { found = vocab.get(piece); break; }
        end -= 1;
      }
      if (found < 0) return [unk];
      ids.push(found);
      start = end;
    }
    return ids;
  }

  function int8(base64) {  // static._int8: an int8 matrix as base64 of its bytes
    var raw = typeof atob === "function" ? atob(base64) : Buffer.from(base64, "base64").toString("binary");
    var out = new Int8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i) << 24 >> 24;
    return out;
  }

  function rowNorms(rows, dims) {  // each row's length: sqrt of an exact integer sum
    var n = rows.length / dims;
    var out = new Float64Array(n);
    for (var r = 0; r < n; r++) {
      var s = 0;
      for (var k = r * dims; k < (r + 1) * dims; k++) s += rows[k] * rows[k];
      out[r] = Math.sqrt(s);
    }
    return out;
  }

  // tokenvectors.StaticSpace: the space exported by iamkb/search/static.py (_static_space); `docs` are the
  // data's document columns (the rows name docnums, the engine's candidates ids)
  function StaticSpace(data, docIds) {
    this.dims = data.dims;
    this.queryScale = data.query_scale;
    this.maxWordChars = data.max_word_chars;
    this.vocab = new Map();
    for (var i = 0; i < data.tokens.length; i++) this.vocab.set(data.tokens[i], i);
    this.unk = data.tokens.length;  // "[UNK]": no row
    this.weights = data.weights;
    this.table = int8(data.table);
    this.vectors = int8(data.documents.rows);
    this.ids = data.documents.docnums.map(function (d) { return docIds[d]; });
    this.rows = new Map(this.ids.map(function (id, r) { return [id, r]; }));
    this.norms = rowNorms(this.vectors, this.dims);
    this.passages = int8(data.passages.rows);
    this.passageNorms = rowNorms(this.passages, this.dims);
    this.passageRows = new Map();
    var start = 0;
    var self = this;
    data.passages.runs.forEach(function (run) {
      self.passageRows.set(docIds[run[0]], [start, start + run[1]]);
      start += run[1];
    });
  }

  StaticSpace.prototype.tokenIds = function (text) {  // tokenvectors.token_ids
    var self = this;
    var out = [];
    preTokenize(normalize(text)).forEach(function (w) {
      wordIds(self.vocab, self.unk, w, self.maxWordChars).forEach(function (i) { out.push(i); });
    });
    return out;
  };

  // StaticSpace.question_vector: null when no token of the question is in the space
  StaticSpace.prototype.questionVector = function (text) {
    var dims = this.dims;
    var total = new Float64Array(dims);
    var self = this;
    this.tokenIds(text).forEach(function (row) {
      if (row >= self.weights.length) return;
      var w = self.weights[row];
      for (var k = 0; k < dims; k++) total[k] += w * self.table[row * dims + k];
    });
    var top = 0;
    for (var k = 0; k < dims; k++) if (Math.abs(total[k]) > top) top = Math.abs(total[k]);
    if (top === 0) return null;
    var q = new Array(dims);
    for (k = 0; k < dims; k++) q[k] = Math.floor(total[k] * this.queryScale / top + 0.5);
    return q;
  };

  // StaticSpace.scores: the cosine of the question and one row
  function cosine(rows, norms, dims, r, q, qLength) {
    var dot = 0;
    for (var k = 0; k < dims; k++) dot += rows[r * dims + k] * q[k];
    return dot / (qLength * norms[r]);
  }

  function length(q) {
    var s = 0;
    for (var k = 0; k < q.length; k++) s += q[k] * q[k];
    return Math.sqrt(s);
  }

  // Semantic.nearest / semantic.best_owners: the first k distinct documents, most similar first (ties by
  // row), that `keep` accepts
  StaticSpace.prototype.nearest = function (q, k, keep) {
    if (k <= 0) return [];
    var n = this.ids.length;
    var qLength = length(q);
    var sims = new Float64Array(n);
    var order = new Array(n);
    for (var r = 0; r < n; r++) { sims[r] = cosine(this.vectors, this.norms, this.dims, r, q, qLength); order[r] = r; }
    order.sort(function (a, b) { return sims[b] - sims[a] || a - b; });
    var out = [];
    for (var i = 0; i < n && out.length < k; i++) {
      var id = this.ids[order[i]];
      if (out.indexOf(id) < 0 && keep(id)) out.push(id);
    }
    return out;
  };

  // Semantic.similarities: id -> cosine, for the ids that have a row
  StaticSpace.prototype.similarities = function (q, ids) {
    var out = new Map();
    var qLength = length(q);
    var self = this;
    ids.forEach(function (id) {
      var r = self.rows.get(id);
      if (r !== undefined) out.set(id, cosine(self.vectors, self.norms, self.dims, r, q, qLength));
    });
    return out;
  };

  // Semantic.passage_similarities: section id -> the cosine of its closest passage
  StaticSpace.prototype.passageSimilarities = function (q, ids) {
    var out = new Map();
    var qLength = length(q);
    var self = this;
    ids.forEach(function (id) {
      var span = self.passageRows.get(id);
      if (!span) return;
      var best = -Infinity;
      for (var r = span[0]; r < span[1]; r++) {
        var s = cosine(self.passages, self.passageNorms, self.dims, r, q, qLength);
        if (s > best) best = s;
      }
      out.set(id, best);
    });
    return out;
  };

  return { StaticSpace: StaticSpace, normalize: normalize, preTokenize: preTokenize, wordIds: wordIds };
});

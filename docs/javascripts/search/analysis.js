// Text analysis of the in-page search engine: the Python index's analysis (iamkb/search/analysis.py) in
// JavaScript, term for term. IAM names are kept whole and split at their separators and camel case, words are
// lowercased, stop words and one-letter tokens dropped, and the rest stemmed by Whoosh's Porter stemmer
// (whoosh/lang/porter.py, ported with its quirks). The patterns and word lists are not written here: they come
// from the data the site build exports (iamkb/search/static.py), as Python writes them, and `pyRegExp`
// translates Python's regular-expression dialect (Unicode \w, \b and \s) to JavaScript's.
//
// Works as a classic script (sets window.iamkbSearchAnalysis) and as a CommonJS module (node's tests).
(function (root, factory) {
  "use strict";
  if (typeof module === "object" && module.exports) module.exports = factory();
  else root.iamkbSearchAnalysis = factory();
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  // --- Python's string semantics ----------------------------------------------------------------------------

  // Python's \w for str patterns: letters (L*), numbers (N*) and "_"; \s: what str.isspace() accepts.
  var WORD = "\\p{L}\\p{N}_";
  var SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
  var BOUNDARY = "(?:(?<=[" + WORD + "])(?![" + WORD + "])|(?<![" + WORD + "])(?=[" + WORD + "]))";
  var SPACE_RE = new RegExp("^[" + SPACE + "]+|[" + SPACE + "]+$", "gu");
  var ALPHA = /^\p{L}+$/u;
  var UPPER = /^\p{Uppercase}$/u;
  var JS_SYNTAX = "^$\\.*+?()[]{}|/";

  // A Python regex (the subset the project writes: classes, groups, lookaround, quantifiers, \w \W \s \S \d \b)
  // as the source of an equivalent JavaScript RegExp with the "u" flag. Anything outside the subset throws, so
  // a new pattern in Python fails the tests rather than matching differently.
  function translate(source) {
    var out = "";
    var inClass = false;
    for (var i = 0; i < source.length; i++) {
      var c = source[i];
      if (c === "\\") {
        var e = source[++i];
        if (e === undefined) throw new Error("dangling backslash in " + source);
        if (e === "w") out += inClass ? WORD : "[" + WORD + "]";
        else if (e === "W" && !inClass) out += "[^" + WORD + "]";
        else if (e === "s") out += inClass ? SPACE : "[" + SPACE + "]";
        else if (e === "S" && !inClass) out += "[^" + SPACE + "]";
        else if (e === "d") out += "\\p{Nd}";
        else if (e === "b") out += inClass ? "\\x08" : BOUNDARY;
        else if ("ntrfv".indexOf(e) >= 0) out += "\\" + e;
        else if (/[A-Za-z0-9]/.test(e)) throw new Error("unsupported escape \\" + e + " in " + source);
        else if (e === "-") out += inClass ? "\\-" : "-";
        else if (JS_SYNTAX.indexOf(e) >= 0) out += "\\" + e;
        else out += e;  // re.escape escapes spaces, '#', '&', '~': plain characters in JavaScript
        continue;
      }
      if (inClass) {
        if (c === "]") inClass = false;
        out += c;
        continue;
      }
      if (c === "[") {
        if (source.slice(i, i + 6) === "[^\\W_]") {  // a word character but "_": letters and digits
          out += "[\\p{L}\\p{N}]";
          i += 5;
          continue;
        }
        if (source.slice(i, i + 4) === "[^\\W") throw new Error("unsupported class in " + source);
        inClass = true;
        out += c;
        if (source[i + 1] === "^") { out += "^"; i++; }
        if (source[i + 1] === "]") { out += "\\]"; i++; }
        continue;
      }
      if (c === "(" && source[i + 1] === "?") {
        var ext = source.slice(i, i + 4);
        if (!/^\(\?(?::|=|!|<=|<!)/.test(ext)) throw new Error("unsupported group " + ext + " in " + source);
      }
      out += c;
    }
    if (inClass) throw new Error("unterminated class in " + source);
    return out;
  }

  // {"source", "ignorecase"} as exported -> a RegExp; `how`: "g" (finditer, split), "y" (re.match), "" (search).
  function pyRegExp(pattern, how) {
    return new RegExp(translate(pattern.source), "u" + (pattern.ignorecase ? "i" : "") + (how || ""));
  }

  function finditer(re, text) {
    re.lastIndex = 0;
    var out = [];
    var m;
    while ((m = re.exec(text)) !== null) {
      out.push(m);
      if (m[0] === "") re.lastIndex += 1;
    }
    return out;
  }

  function pyMatch(stickyRe, text) {  // re.match: anchored at the start
    stickyRe.lastIndex = 0;
    return stickyRe.exec(text);
  }

  function strip(text) { return text.replace(SPACE_RE, ""); }  // str.strip()

  var SPACES = new RegExp("[" + SPACE + "]+", "u");
  function split(text) { return text.split(SPACES).filter(function (w) { return w; }); }  // str.split()

  function stripChars(text, chars) {  // str.strip(chars)
    var cps = Array.from(text);
    var a = 0;
    var b = cps.length;
    while (a < b && chars.indexOf(cps[a]) >= 0) a++;
    while (b > a && chars.indexOf(cps[b - 1]) >= 0) b--;
    return cps.slice(a, b).join("");
  }

  function rstripChar(text, ch) {
    var end = text.length;
    while (end > 0 && text[end - 1] === ch) end--;
    return text.slice(0, end);
  }

  function cpLength(text) {
    var n = 0;
    for (var i = 0; i < text.length; i++) {
      var c = text.charCodeAt(i);
      if (c < 0xd800 || c > 0xdbff) n++;
    }
    return n;
  }

  function cpSlice(text, end) {  // text[:end] in code points
    if (text.length <= end) return text;
    return Array.from(text).slice(0, end).join("");
  }

  function isAscii(text) { return /^[\x00-\x7f]*$/.test(text); }
  function isAlpha(text) { return ALPHA.test(text); }
  function isUpper(ch) { return UPPER.test(ch); }

  // Python's str ordering (by code point); JavaScript's < compares UTF-16 units, which differ past U+FFFF.
  function pyCmp(a, b) {
    if (a === b) return 0;
    var n = Math.min(a.length, b.length);
    for (var i = 0; i < n; i++) {
      var x = a.charCodeAt(i);
      var y = b.charCodeAt(i);
      if (x !== y) {
        var xs = x >= 0xd800 && x <= 0xdfff;
        var ys = y >= 0xd800 && y <= 0xdfff;
        if (xs !== ys) return xs ? 1 : -1;  // a surrogate starts a code point above every BMP one
        return x < y ? -1 : 1;
      }
    }
    return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
  }

  function escapeHtml(text) {  // html.escape(text, quote=False)
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  // --- Porter stemmer, as whoosh.lang.porter.stem writes it ---------------------------------------------------
  // Its patterns are applied with re.match (anchored at the start only), which makes two of them quirky:
  // `(at|bl|iz)$` and `([^aeiouylsz])\1$` only match words of exactly two letters. Kept: the index was stemmed so.

  var STEP2 = { ational: "ate", tional: "tion", enci: "ence", anci: "ance", izer: "ize", bli: "ble", alli: "al",
    entli: "ent", eli: "e", ousli: "ous", ization: "ize", ation: "ate", ator: "ate", alism: "al", iveness: "ive",
    fulness: "ful", ousness: "ous", aliti: "al", iviti: "ive", biliti: "ble", logi: "log" };
  var STEP3 = { icate: "ic", ative: "", alize: "al", iciti: "ic", ical: "ic", ful: "", ness: "" };
  var C = "[^aeiouy]+";
  var V = "[aeiou]+";
  var MGR0 = new RegExp("^(" + C + ")?" + V + C, "u");
  var MEQ1 = new RegExp("^(" + C + ")?" + V + C + "(" + V + ")?$", "u");
  var MGR1 = new RegExp("^(" + C + ")?" + V + C + V + C, "u");
  var S_V = new RegExp("^(" + C + ")?[aeiouy]", "u");
  var C_V = new RegExp("^" + C + "[aeiouy][^aeiouwxy]$", "u");
  var ED_ING = /^(.*)(ed|ing)$/u;
  var AT_BL_IZ = /^(at|bl|iz)$/u;
  var DOUBLE = /^([^aeiouylsz])\1$/u;
  var RE2 = /^(.+?)(ational|tional|enci|anci|izer|bli|alli|entli|eli|ousli|ization|ation|ator|alism|iveness|fulness|ousness|aliti|iviti|biliti|logi)$/u;
  var RE3 = /^(.+?)(icate|ative|alize|iciti|ical|ful|ness)$/u;
  var RE4A = /^(.+?)(al|ance|ence|er|ic|able|ible|ant|ement|ment|ent|ou|ism|ate|iti|ous|ive|ize)$/u;
  var RE4B = /^(.+?)(s|t)(ion)$/u;
  var RE5 = /^(.+?)e$/u;

  function stem(w) {
    if (cpLength(w) < 3) return w;
    var firstIsY = w[0] === "y";
    if (firstIsY) w = "Y" + w.slice(1);
    var m;
    var s;
    // Step 1a
    if (w.endsWith("s")) {
      if (w.endsWith("sses")) w = w.slice(0, -2);
      else if (w.endsWith("ies")) w = w.slice(0, -2);
      else if (w[w.length - 2] !== "s") w = w.slice(0, -1);
    }
    // Step 1b
    if (w.endsWith("eed")) {
      s = w.slice(0, -3);
      if (MGR0.test(s)) w = w.slice(0, -1);
    } else {
      m = ED_ING.exec(w);
      if (m) {
        s = m[1];
        if (S_V.test(s)) {
          w = s;
          if (AT_BL_IZ.test(w)) w += "e";
          else if (DOUBLE.test(w)) w = Array.from(w).slice(0, -1).join("");
          else if (C_V.test(w)) w += "e";
        }
      }
    }
    // Step 1c
    if (w.endsWith("y")) {
      s = w.slice(0, -1);
      if (S_V.test(s)) w = s + "i";
    }
    // Step 2
    m = RE2.exec(w);
    if (m && MGR0.test(m[1])) w = m[1] + STEP2[m[2]];
    // Step 3
    m = RE3.exec(w);
    if (m && MGR0.test(m[1])) w = m[1] + STEP3[m[2]];
    // Step 4
    m = RE4A.exec(w);
    if (m) {
      if (MGR1.test(m[1])) w = m[1];
    } else {
      m = RE4B.exec(w);
      if (m) {
        s = m[1] + m[2];
        if (MGR1.test(s)) w = s;
      }
    }
    // Step 5
    m = RE5.exec(w);
    if (m) {
      s = m[1];
      if (MGR1.test(s) || (MEQ1.test(s) && !C_V.test(s))) w = s;
    }
    if (w.endsWith("ll") && MGR1.test(w)) w = w.slice(0, -1);
    if (firstIsY) w = "y" + w.slice(1);
    return w;
  }

  // --- the analyzer ------------------------------------------------------------------------------------------

  // Built from the exported constants (data.constants.analysis): IamTokenizer | LowercaseFilter |
  // StopFilter(stops, minsize) | StemFilter, and what the engine reads beside it.
  function Analyzer(consts) {
    this.compound = pyRegExp(consts.compound, "g");
    this.part = pyRegExp(consts.part, "g");
    this.camel = pyRegExp(consts.camel, "g");
    this.sentence = pyRegExp(consts.sentence, "g");
    this.stops = new Set(consts.stops);
    this.minChars = consts.min_token_chars;
    this.stems = new Map();
    this.cache = new Map();
  }

  // The pieces of a compound token: separator parts (when there are several), then camel-case pieces of each.
  Analyzer.prototype.splitParts = function (word) {
    var out = [];
    var parts = finditer(this.part, word).map(function (m) { return m[0]; });
    for (var i = 0; i < parts.length; i++) {
      if (parts.length > 1) out.push(parts[i]);
      if (!isAscii(parts[i])) continue;
      var camel = finditer(this.camel, parts[i]).map(function (m) { return m[0]; });
      if (camel.length > 1) Array.prototype.push.apply(out, camel);
    }
    return out;
  };

  // The compound tokens of a text as typed (a trailing "?" is punctuation, not a wildcard).
  Analyzer.prototype.compounds = function (text) {
    var out = [];
    var ms = finditer(this.compound, text);
    for (var i = 0; i < ms.length; i++) {
      var w = rstripChar(ms[i][0], "?");
      if (w) out.push(w);
    }
    return out;
  };

  Analyzer.prototype.stem = function (word) {
    var s = this.stems.get(word);
    if (s === undefined) {
      s = stem(word);
      this.stems.set(word, s);
    }
    return s;
  };

  // The distinct index terms of a text, in order (analysis.analyze).
  Analyzer.prototype.analyze = function (text) {
    var hit = this.cache.get(text);
    if (hit !== undefined) return hit;
    var seen = new Set();
    var out = [];
    var words = this.compounds(text);
    for (var i = 0; i < words.length; i++) {
      var word = words[i];
      var wordLow = word.toLowerCase();
      var forms = [word];
      var parts = this.splitParts(word);
      for (var j = 0; j < parts.length; j++) if (parts[j].toLowerCase() !== wordLow) forms.push(parts[j]);
      var keys = new Set();
      for (var k = 0; k < forms.length; k++) {
        var key = forms[k].toLowerCase();
        if (keys.has(key)) continue;
        keys.add(key);
        if (cpLength(key) < this.minChars || this.stops.has(key)) continue;
        var term = this.stem(key);
        if (!seen.has(term)) {
          seen.add(term);
          out.push(term);
        }
      }
    }
    if (this.cache.size > 50000) this.cache.clear();
    this.cache.set(text, out);
    return out;
  };

  // A text's sentences and lines, stripped, non-empty, without bare table pipes (analysis.sentences).
  Analyzer.prototype.sentences = function (text) {
    this.sentence.lastIndex = 0;
    return text.split(this.sentence).map(strip).filter(function (s) { return s && s !== "|"; });
  };

  // --- spelling -----------------------------------------------------------------------------------------------

  // Optimal string alignment distance (rapidfuzz.distance.OSA): edits, with a swap of two neighbours as one.
  // Over code points (arrays); `cutoff + 1` for any distance above `cutoff`. Only the band of cells within
  // `cutoff` of the diagonal is computed: a cell outside it is above `cutoff` (it is at least |i - j|), and one
  // computed from such a cell is too, so every distance up to `cutoff` comes out exact.
  function osa(a, b, cutoff) {
    var n = a.length;
    var m = b.length;
    if (Math.abs(n - m) > cutoff) return cutoff + 1;
    var INF = cutoff + 1;
    var prev2 = new Array(m + 2).fill(INF);
    var prev = new Array(m + 2).fill(INF);
    var cur = new Array(m + 2).fill(INF);
    for (var j = 0; j <= Math.min(m, cutoff); j++) prev[j] = j;
    for (var i = 1; i <= n; i++) {
      var lo = Math.max(1, i - cutoff);
      var hi = Math.min(m, i + cutoff);
      cur[lo - 1] = lo === 1 ? (i <= cutoff ? i : INF) : INF;
      var rowMin = cur[lo - 1];
      for (j = lo; j <= hi; j++) {
        var cost = a[i - 1] === b[j - 1] ? 0 : 1;
        var d = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
        if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1] && prev2[j - 2] + 1 < d) d = prev2[j - 2] + 1;
        if (d > INF) d = INF;
        cur[j] = d;
        if (d < rowMin) rowMin = d;
      }
      cur[hi + 1] = INF;
      if (rowMin > cutoff) return INF;  // a row's least value never falls in the rows below it
      var t = prev2;
      prev2 = prev;
      prev = cur;
      cur = t;
    }
    return prev[m] > cutoff ? INF : prev[m];
  }

  return {
    translate: translate, pyRegExp: pyRegExp, finditer: finditer, pyMatch: pyMatch, strip: strip, split: split,
    stripChars: stripChars, cpLength: cpLength, cpSlice: cpSlice, isAscii: isAscii, isAlpha: isAlpha,
    isUpper: isUpper, pyCmp: pyCmp, escapeHtml: escapeHtml, stem: stem, Analyzer: Analyzer, osa: osa
  };
});

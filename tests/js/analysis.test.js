// Unit tests of the in-page engine's analysis (docs/javascripts/search/analysis.js): `node --test tests/js/`.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const A = require("../../docs/javascripts/search/analysis.js");

const py = (source, ignorecase) => ({ source, ignorecase: Boolean(ignorecase) });

test("Python's \\w, \\b and \\s are Unicode-aware in the translation", () => {
  const word = A.pyRegExp(py("\\b(key)\\b"), "g");
  assert.equal(A.finditer(word, "a key, keys, über-key").length, 2);
  assert.equal(A.pyRegExp(py("\\bkey\\b")).test("überkey"), false);  // "ü" is a word character, as in Python
  assert.deepEqual("a\u00a0b\x1cc".split(A.pyRegExp(py("\\s+"), "g")), ["a", "b", "c"]);
  assert.deepEqual(A.finditer(A.pyRegExp(py("[^\\W_]+"), "g"), "aws:Request_Tag/é").map((m) => m[0]),
    ["aws", "Request", "Tag", "é"]);
});

test("re.escape's escapes and IGNORECASE translate", () => {
  const re = A.pyRegExp(py("(?<![\\w:/-])(auto\\ scaling\\ group|asg)(?![\\w:/-])"), "g");
  assert.deepEqual(A.finditer(re, "my asg and auto scaling group, not asg:x").map((m) => m[1]),
    ["asg", "auto scaling group"]);
  assert.ok(A.pyRegExp(py("\\bhow\\b", true)).test("HOW do I"));
  assert.equal(A.pyMatch(A.pyRegExp(py("what"), "y"), "so what"), null);  // re.match is anchored
});

test("patterns outside the supported subset throw instead of matching differently", () => {
  assert.throws(() => A.translate("(?P<name>x)"));
  assert.throws(() => A.translate("\\Z"));
  assert.throws(() => A.translate("[^\\Wx]"));
});

test("Porter stemmer: the algorithm's own examples, and Whoosh's quirks", () => {
  const cases = { caresses: "caress", ponies: "poni", cats: "cat", feed: "feed", agreed: "agre",
    plastered: "plaster", motoring: "motor", happy: "happi", filing: "file",
    relational: "relat", generalization: "gener", adjustment: "adjust", fundamentally: "fundament",
    policies: "polici", deleting: "delet", scaling: "scale", yield: "yield", at: "at" };
  for (const [word, stem] of Object.entries(cases)) assert.equal(A.stem(word), stem, word);
  // whoosh applies `(at|bl|iz)$` and `([^aeiouylsz])\1$` with re.match, so they only match two-letter stems:
  // "conflated" keeps no "e" and "hopping" its double "p" (the published algorithm gives "conflate", "hop")
  assert.equal(A.stem("conflated"), "conflat");
  assert.equal(A.stem("hopping"), "hopp");
});

test("OSA distance counts a swap of neighbours as one edit and stops past the cutoff", () => {
  const d = (a, b, c) => A.osa(Array.from(a), Array.from(b), c);
  assert.equal(d("tempalte", "template", 2), 1);
  assert.equal(d("polcy", "policy", 2), 1);
  assert.equal(d("ca", "abc", 5), 3);  // OSA, not Damerau: no edit of a transposed pair
  assert.equal(d("kitten", "sitting", 5), 3);
  assert.equal(d("abcdef", "uvwxyz", 2), 3);  // past the cutoff: cutoff + 1
  assert.equal(d("aé", "éa", 2), 1);
});

test("Python's string order and slicing are by code point", () => {
  assert.ok(A.pyCmp("\uffff", "\u{1F600}") < 0);  // JavaScript's < says otherwise
  assert.ok(A.pyCmp("abc", "abd") < 0 && A.pyCmp("ab", "abc") < 0 && A.pyCmp("b", "a") > 0);
  assert.equal(A.cpLength("a\u{1F600}b"), 3);
  assert.equal(A.cpSlice("a\u{1F600}bc", 2), "a\u{1F600}");
  assert.equal(A.stripChars("${TagKey}", "${}"), "TagKey");
});

// The static token vectors' tokenizer and arithmetic (docs/javascripts/search/tokenvectors.js) on known cases:
// BERT's normaliser and pre-tokenizer as iamkb/search/embed.py has them, WordPiece's greedy longest match,
// and a two-token space whose vectors and cosines can be worked out by hand.
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const path = require("path");
const TV = require(path.join(__dirname, "..", "..", "docs", "javascripts", "search", "tokenvectors.js"));

test("the normaliser lowercases, strips accents and controls, and spaces CJK characters", () => {
  assert.equal(TV.normalize("Crème BRÛLÉE\u0000\u0007"), "creme brulee");
  assert.equal(TV.normalize("a\tb\u00a0c"), "a b c");
  assert.equal(TV.normalize("東京"), " 東  京 ");
});

test("punctuation is a word of its own", () => {
  assert.deepEqual(TV.preTokenize("ec2:RunInstances, please!"), ["ec2", ":", "RunInstances", ",", "please", "!"]);
  assert.deepEqual(TV.preTokenize("  "), []);
});

test("WordPiece takes the longest piece first and gives [UNK] for a word it cannot spell", () => {
  const vocab = new Map([["scal", 0], ["scaling", 1], ["##ing", 2], ["##s", 3], ["s", 4]]);
  assert.deepEqual(TV.wordIds(vocab, 9, "scaling", 100), [1]);
  assert.deepEqual(TV.wordIds(vocab, 9, "scalings", 100), [1, 3]);
  assert.deepEqual(TV.wordIds(vocab, 9, "scalxing", 100), [9]);
  assert.deepEqual(TV.wordIds(vocab, 9, "s".repeat(101), 100), [9]);
});

test("a question's vector is its tokens' weighted sum rounded at query_scale, and cosines are exact", () => {
  const b64 = (bytes) => Buffer.from(Int8Array.from(bytes).buffer).toString("base64");
  const space = new TV.StaticSpace({
    dims: 2, query_scale: 1024, max_word_chars: 100, tokens: ["scale", "delete"], weights: [0.5, 2.0],
    table: b64([100, 0, 0, -50]),
    documents: { docnums: [0, 1], rows: b64([3, -4, 1, 0]) },
    passages: { runs: [[1, 2]], rows: b64([0, 1, 1, 1]) }
  }, ["doc-a", "doc-b"]);
  // 0.5 * [100, 0] + 2 * [0, -50] = [50, -100] -> scaled to 1024 at its largest: [512, -1024]
  assert.deepEqual(space.questionVector("scale delete"), [512, -1024]);
  assert.equal(space.questionVector("nothing known"), null);
  const q = space.questionVector("scale delete");
  const sims = space.similarities(q, ["doc-a", "doc-b", "doc-c"]);
  assert.equal(sims.get("doc-a"), (512 * 3 + 1024 * 4) / (Math.sqrt(512 * 512 + 1024 * 1024) * 5));
  assert.equal(sims.get("doc-b"), 512 / Math.sqrt(512 * 512 + 1024 * 1024));
  assert.equal(sims.has("doc-c"), false);
  assert.deepEqual(space.nearest(q, 2, () => true), ["doc-a", "doc-b"]);
  assert.deepEqual(space.nearest(q, 2, (id) => id !== "doc-a"), ["doc-b"]);
  const closest = space.passageSimilarities(q, ["doc-a", "doc-b"]);
  assert.equal(closest.has("doc-a"), false);
  assert.equal(closest.get("doc-b"), Math.max(-1024 / Math.sqrt(512 * 512 + 1024 * 1024),
    (512 - 1024) / (Math.sqrt(512 * 512 + 1024 * 1024) * Math.SQRT2)));
});

// Runs the in-page search engine in node for the Python tests (tests/test_search_static.py): reads the exported
// data (a JSON file), then one JSON request per line on stdin, and answers each with one JSON line on stdout.
//   {"op": "analyze", "texts": [...]}      -> [[term, ...], ...]
//   {"op": "stem", "words": [...]}         -> [stem, ...]
//   {"op": "sentences", "texts": [...]}    -> [[sentence, ...], ...]
//   {"op": "correct", "words": [...]}      -> [corrected or null, ...]
//   {"op": "parse", "texts": [...]}        -> [{terms, corrections, expansions, words}, ...]
//   {"op": "ask", "questions": [...], "limit": n} -> [ask's result, ...]
//   {"op": "scores", "field": f}           -> every posting's BM25F score, in the field's term and docnum order
//   {"op": "tokens", "texts": [...]}       -> [[WordPiece id in the static space, ...], ...]
//   {"op": "vectors", "texts": [...]}      -> [the question vector (integers) or null, ...]
//   {"op": "cosines", "text": t, "ids": [...]} -> {"documents": {id: cosine}, "passages": {id: cosine}, "nearest": [id, ...]}
"use strict";
const fs = require("fs");
const readline = require("readline");
const path = require("path");
const { Engine } = require(path.join(__dirname, "..", "..", "docs", "javascripts", "search", "engine.js"));
const A = require(path.join(__dirname, "..", "..", "docs", "javascripts", "search", "analysis.js"));

const engine = new Engine(JSON.parse(fs.readFileSync(process.argv[2], "utf8")));

const ops = {
  analyze: (r) => r.texts.map((t) => engine.analyzer.analyze(t)),
  stem: (r) => r.words.map((w) => A.stem(w)),
  sentences: (r) => r.texts.map((t) => engine.analyzer.sentences(t)),
  correct: (r) => r.words.map((w) => engine.correct(w)),
  parse: (r) => r.texts.map((t) => {
    const q = engine.parse(t);
    return { terms: q.terms, corrections: Object.fromEntries(q.corrections), expansions: q.expansions, words: q.words };
  }),
  ask: (r) => r.questions.map((q) => engine.ask(q, { limit: r.limit || 10 })),
  tokens: (r) => r.texts.map((t) => engine.vectors.tokenIds(t)),
  vectors: (r) => r.texts.map((t) => engine.vectors.questionVector(t)),
  cosines: (r) => {
    const q = engine.vectors.questionVector(r.text);
    return { documents: Object.fromEntries(engine.vectors.similarities(q, r.ids)),
      passages: Object.fromEntries(engine.vectors.passageSimilarities(q, r.ids)),
      nearest: engine.vectors.nearest(q, r.k, () => true) };
  },
  scores: (r) => {
    const f = engine.fields[r.field];
    const out = [];
    for (const term of engine.data.postings[r.field].terms) out.push(...engine.postings(r.field, term).scores);
    return out;
  }
};

const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on("line", (line) => {
  if (!line.trim()) return;
  const req = JSON.parse(line);
  let out;
  try {
    out = { result: ops[req.op](req) };
  } catch (err) {
    out = { error: String(err && err.stack || err) };
  }
  process.stdout.write(JSON.stringify(out) + "\n");
});

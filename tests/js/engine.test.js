// Unit tests of the in-page engine (docs/javascripts/search/engine.js) on the site's exported data: the path
// of a JSON export in IAMKB_SEARCH_DATA (tests/test_search_static.py writes one and runs these).
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("fs");
const { Engine } = require("../../docs/javascripts/search/engine.js");

const file = process.env.IAMKB_SEARCH_DATA;
const engine = file ? new Engine(JSON.parse(fs.readFileSync(file, "utf8"))) : null;
const skip = file ? false : "IAMKB_SEARCH_DATA is not set (tests/test_search_static.py sets it)";

test("data of another format is refused", () => {
  assert.throws(() => new Engine({ format: -1 }), /another format/);
});

test("results are the DESIGN.md shape, best first, at most the limit", { skip }, () => {
  const out = engine.ask("how do I stop people deleting scaling policies?", { limit: 5 });
  assert.equal(out.results.length, 5);
  for (const r of out.results) {
    for (const k of ["id", "kind", "title", "url", "score", "snippet"]) assert.ok(k in r, k);
  }
  const scores = out.results.map((r) => r.score);
  assert.deepEqual(scores, scores.slice().sort((a, b) => b - a));
});

test("a misspelt IAM name is corrected, named, and its entity answers", { skip }, () => {
  const out = engine.ask("CreateAutoScalingGrop access level");
  assert.deepEqual(out.corrections, { createautoscalinggrop: "createautoscalinggroup" });
  assert.equal(out.named[0], "action:autoscaling:CreateAutoScalingGroup");
  assert.equal(out.results[0].id, "action:autoscaling:CreateAutoScalingGroup");
  assert.equal(out.parts.facts[0].id, out.results[0].id);
});

test("snippets are escaped text with the matched words in marks", { skip }, () => {
  const out = engine.ask("service-linked role permissions");
  const snippet = out.results[0].snippet;
  assert.match(snippet, /<mark>[^<]+<\/mark>/);
  assert.equal(snippet.replace(/<\/?mark>/g, "").indexOf("<"), -1);
});

test("a question with nothing to search for is declined, and a long one is cut as Python cuts it", { skip }, () => {
  // no term to retrieve on: nothing lexically; with token vectors only the nearest sections in meaning, as
  // Python's ask gives them (the differential test), and the answer declines
  const nothing = engine.ask("?");
  assert.equal(nothing.parts.declined, true);
  assert.equal(nothing.results.length, engine.vectors ? engine.p.pools.neighbours : 0);
  assert.equal(engine.ask("how do I").parts.declined, true);
  const long = "policy ".repeat(1000);
  assert.equal(engine.parse(long).text.length, engine.c.query.max_query_chars);
});

test("citations carry the site's page of each cited id", { skip }, () => {
  const out = engine.ask("DeleteTags access level");
  assert.ok(out.citations.length > 0);
  for (const c of out.citations) assert.equal(c.site_url, engine.siteUrl(c.id));
});

"""Search and ask on a small knowledge base written here (no upstream text), built into a temporary index."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from conftest import need, uncovered_modules

from iamkb.cli import main
from iamkb.search import ask, search
from iamkb.search.analysis import analyze
from iamkb.search.build import build_index
from iamkb.search.train.evaluate import first_rank, load_questions, metrics, section_of

URL = "https://docs.example/guide/"


def _section(page: str, anchor: str, title: str, text: str, level: int = 2, examples=(), code: str = "") -> dict:
    blocks = [{"type": "paragraph", "inlines": [], "text": text}]
    if code:
        blocks.append({"type": "code", "lang": "json", "code": code, "example": None})
    return {"id": f"autoscaling/{page}#{anchor}", "page": f"autoscaling/{page}", "guide": "autoscaling",
            "anchor": anchor, "level": level, "title": title, "parent": None, "path": ["Page", title],
            "aliases": [], "blocks": blocks, "text": text, "links": [], "missing_content": [],
            "mentions": {"actions": [], "condition_keys": []}, "examples": list(examples)}


POLICY = '{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "autoscaling:DeletePolicy", ' \
         '"Resource": "*", "Condition": {"StringEquals": {"autoscaling:ResourceTag/environment": "production"}}}]}'
EX = "example:autoscaling/demo#delete-policy:1"
SECTIONS = [
    _section("demo", "demo", "Demo page", "Overview of the demo page about groups.", level=1),
    _section("demo", "delete-policy", "Control which scaling policies can be deleted",
             "This policy denies DeletePolicy when the Auto Scaling group has the tag environment=production.",
             examples=[EX], code=POLICY),
    _section("demo", "slr", "Service-linked role for the service",
             "The service-linked role lets the service launch instances on your behalf."),
    _section("demo", "kms", "Key policy for encrypted volumes",
             "Your customer managed key needs a key policy that allows the role to use it."),
]
EXAMPLES = [{"id": EX, "section": SECTIONS[1]["id"], "page": "autoscaling/demo", "n": 1, "kind": "identity",
             "format": "document", "intro": "The following policy denies deleting policies.", "code": POLICY,
             "policy": json.loads(POLICY), "error": None, "corrected": False, "correction": None}]
ACTIONS = [{"id": "action:autoscaling:DeleteTags", "service": "autoscaling", "name": "DeleteTags",
            "description": "Grants permission to delete the specified tags", "access_level": "Tagging",
            "resource_types": [{"name": "autoScalingGroup", "required": True, "condition_keys": [],
                                "dependent_actions": []}],
            "condition_keys": ["aws:RequestTag/${TagKey}", "aws:TagKeys"], "dependent_actions": []},
           {"id": "action:autoscaling:CreateAutoScalingGroup", "service": "autoscaling",
            "name": "CreateAutoScalingGroup", "description": "Grants permission to create an Auto Scaling group",
            "access_level": "Write", "resource_types": [], "condition_keys": [], "dependent_actions": []}]
KEYS = [{"id": "condition_key:aws:RequestTag/${TagKey}", "key": "aws:RequestTag/${TagKey}", "service": "aws",
         "type": "String", "description": "Filters access by the tags passed in the request"}]


def _write_kb(folder: Path, reference: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pages = [{"id": "autoscaling/demo", "guide": "autoscaling", "page": "demo", "title": "Demo page", "url": URL,
              "source": {}, "sections": [s["id"] for s in SECTIONS]}]
    files = {"pages": pages, "sections": SECTIONS, "examples": EXAMPLES}
    if reference:
        files.update(actions=ACTIONS, condition_keys=KEYS, resource_types=[], managed_policies=[],
                     services=[{"prefix": "autoscaling", "name": "Amazon EC2 Auto Scaling", "covered": True}])
    for name, data in files.items():
        (folder / f"{name}.json").write_text(json.dumps(data), encoding="utf-8")


# The toy KBs below are indexed without kb/ranker.json (a "none.json" that does not exist): the learned stage is
# fitted on the real KB's questions and has its own tests (test_search_learned.py); these test the rerank.
@pytest.fixture(scope="module")
def index(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("kb")
    _write_kb(root / "build")
    syn = root / "synonyms.yml"
    syn.write_text("asg: [auto scaling group]\nslr: [service-linked role]\ncmk: [customer managed key]\n")
    counts = build_index(root / "build", root / "index", syn, root / "none.json")
    assert counts == {"action": 2, "condition_key": 1, "example": 1, "section": 4}
    return root / "index"


def ids(out: dict) -> list[str]:
    return [r["id"] for r in out["results"]]


def test_analyzer_keeps_identifiers_whole_and_split():
    terms = analyze("autoscaling:CreateAutoScalingGroup")
    assert "autoscaling:createautoscalinggroup" in terms and "createautoscalinggroup" in terms
    assert set(analyze("create auto scaling groups")) <= set(terms)
    assert "requesttag" in analyze("aws:RequestTag/${TagKey}")
    assert analyze("CMK?") == ("cmk",)  # a trailing '?' is punctuation
    # an acronym's plural or version is one piece, not "AR" + "Ns" or "IMD" + "Sv"
    assert set(analyze("TargetGroupARNs")) == {"targetgrouparn", "target", "group", "arn"}
    assert analyze("ASGs") == ("asg",) and "sv" not in analyze("IMDSv2")


@pytest.mark.parametrize("query", ["autoscaling:CreateAutoScalingGroup", "CreateAutoScalingGroup",
                                   "create auto scaling group"])
def test_action_found_by_every_form_of_its_name(index, query):
    assert ids(search(query, index=index))[0] == "action:autoscaling:CreateAutoScalingGroup"


def test_condition_key_found_by_part_of_its_name(index):
    assert "condition_key:aws:RequestTag/${TagKey}" in ids(search("RequestTag", index=index))[:2]


def test_synonyms_and_spelling(index):
    assert ids(search("SLR", index=index, kind="section"))[0] == "autoscaling/demo#slr"
    assert ids(search("CMK", index=index, kind="section"))[0] == "autoscaling/demo#kms"
    assert ids(search("servce linkd role", index=index, kind="section"))[0] == "autoscaling/demo#slr"


def test_filters_and_snippets(index):
    out = search("policy", kind="example", index=index)
    assert ids(out) == [EX]
    assert search("policy", guide="iam", index=index)["results"] == []
    snippet = search("production", index=index)["results"][0]["snippet"]
    assert "<mark>production</mark>" in snippet


@pytest.mark.parametrize("query", ['title:"unbalanced', "((a OR", "autoscaling:Describe*", "${aws:username}",
                                   "", "   ", "x" * 10_000, "politique d'accès ✓ 日本語", "AND OR NOT", "*", "?"])
def test_any_query_gives_valid_json(index, query, capsys, monkeypatch):
    monkeypatch.setenv("IAMKB_INDEX", str(index))
    for command in ("search", "ask"):
        assert main([command, "--json", query]) == 0
        out = json.loads(capsys.readouterr().out)
        assert set(out) == ({"query", "results"} if command == "search"
                            else {"question", "answer", "results", "ranking", "citations", "parts", "corrections"})
        for r in out["results"]:  # DESIGN.md's fields, and the page in the site when it has one
            assert {"id", "kind", "title", "url", "score", "snippet"} <= set(r) \
                <= {"id", "kind", "title", "url", "score", "snippet", "site_url"}


def test_ask_quotes_the_section_and_its_example_for_a_howto(index):
    out = ask("how do I stop people deleting scaling policies on production groups", index=index)
    assert out["results"][0]["id"] == "autoscaling/demo#delete-policy"
    assert "Control which scaling policies can be deleted" in out["answer"]
    assert EX in out["answer"] and '"autoscaling:DeletePolicy"' in out["answer"]
    assert URL + "#delete-policy" in out["answer"]


def test_ask_answers_a_named_action_from_the_reference(index):
    out = ask("autoscaling:DeleteTags", index=index)
    assert out["results"][0]["id"] == "action:autoscaling:DeleteTags"
    assert out["answer"].startswith("autoscaling:DeleteTags: access level Tagging; resource type "
                                    "autoScalingGroup (required); condition keys aws:RequestTag/${TagKey}, aws:TagKeys")


def test_ask_declines_when_nothing_is_relevant(index):
    out = ask("recipe for sourdough bread", index=index)
    assert out["answer"].startswith("Nothing in the knowledge base answers this")


def test_abstention_weighs_the_question_words_by_rarity(index):
    # half of the words are the docs' everyday words, but the two the question turns on appear nowhere
    out = ask("scaling policies for groups on the kubernetes cluster", index=index)
    assert out["answer"].startswith("Nothing in the knowledge base answers this")
    assert out["results"]  # the closest matches are still listed, the first named with its id and URL
    assert f'({out["results"][0]["id"]} <{out["results"][0]["url"]}>)' in out["answer"]
    assert not ask("scaling policies for production groups", index=index)["answer"].startswith("Nothing")


def test_conversational_glue_is_not_part_of_what_is_asked(kb_build):
    from iamkb.paths import index_dir
    from iamkb.search import features
    from iamkb.search.engine import engine

    e = engine(index_dir())
    q = e.parse("let people change the desired capacity of groups but nothing else")
    assert [u.word for u in features.units(e, q)] == ["change", "desired", "capacity", "groups"]
    assert not ask("let people change the desired capacity of groups but nothing else")["answer"].startswith(
        "Nothing")
    # the README's first question: "people" is glue, and "stop" says what the docs call deny (kb/synonyms.yml)
    out = ask("how do I stop people deleting scaling policies?")
    assert out["parts"]["quote"]["id"] == out["results"][0]["id"] == \
        "autoscaling/security_iam_id-based-policy-examples#policy-example-delete-policy"


def test_ask_file_prints_one_object_per_line(index, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("IAMKB_INDEX", str(index))
    f = tmp_path / "q.txt"
    f.write_text("DeleteTags\n\nwhat is a service-linked role\n", encoding="utf-8")
    assert main(["ask", "--json", "--file", str(f)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["question"] for line in lines] == ["DeleteTags", "what is a service-linked role"]


def test_ask_file_in_worker_processes_answers_the_same_in_order(index, tmp_path, capsys, monkeypatch):
    from iamkb.search import PARALLEL_MIN

    monkeypatch.setenv("IAMKB_INDEX", str(index))  # the spawned workers inherit it
    base = ["DeleteTags", "what is a service-linked role", "kms key for the asg slr", "how do I tag a group"]
    questions = [f"{base[i % len(base)]} {i}" for i in range(PARALLEL_MIN)]
    f = tmp_path / "q.txt"
    f.write_text("\n".join(questions), encoding="utf-8")
    assert main(["ask", "--json", "--jobs", "2", "--file", str(f)]) == 0
    parallel = capsys.readouterr().out
    assert main(["ask", "--json", "--jobs", "1", "--file", str(f)]) == 0
    assert parallel == capsys.readouterr().out
    assert [json.loads(line)["question"] for line in parallel.splitlines()] == questions
    assert main(["ask", "--jobs", "0", "--file", str(f)]) == 2


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("IAMKB_INDEX", str(tmp_path / "none"))
    assert main(["search", "--json", "x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "iamkb index" in err
    assert main(["ask", "--file", str(tmp_path / "missing.txt")]) == 2


def test_rebuild_swaps_atomically_and_old_readers_keep_working(tmp_path):
    _write_kb(tmp_path / "build", reference=False)
    target = tmp_path / "index"
    build_index(tmp_path / "build", target, tmp_path / "none.yml", tmp_path / "none.json")
    first = target.resolve()
    before = search("production", index=target)
    from iamkb.search.engine import engine

    old = engine(target)
    build_index(tmp_path / "build", target, tmp_path / "none.yml", tmp_path / "none.json")
    second = target.resolve()
    assert target.is_symlink() and first != second and first.is_dir()  # previous generation kept
    assert ids(search("production", index=target)) == ids(before)
    assert old.search("production")[1][0].id == ids(before)[0]  # a reader opened before the swap still reads
    build_index(tmp_path / "build", target, tmp_path / "none.yml", tmp_path / "none.json")
    assert not first.exists() and second.is_dir()  # older generations are removed
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("index")) == sorted(
        ["index", second.name, target.resolve().name])


def test_metrics_count_examples_for_their_section():
    assert section_of("example:autoscaling/p#a:2") == "autoscaling/p#a"
    assert first_rank(["x", "example:autoscaling/p#a:1"], ["autoscaling/p#a"]) == 2
    m = metrics([1, 2, None, 4])
    assert m == {"recall@1": 0.25, "recall@3": 0.5, "mrr@10": round((1 + 0.5 + 0.25) / 4, 4), "n": 4}


def test_question_set_ids_exist_in_the_kb(kb_build):
    questions = load_questions()
    answerable = [q for q in questions if q.ids]
    assert len(answerable) >= 100
    for batch in {q.batch for q in questions}:  # each batch keeps its own held-out third: every third question
        part = [q for q in answerable if q.batch == batch]
        assert [q.heldout for q in part] == [i % 3 == 2 for i in range(len(part))]
    sections = {s["id"] for s in json.loads((kb_build / "sections.json").read_text(encoding="utf-8"))}
    wanted = {i for q in questions for i in q.relevant}
    assert all(not set(q.also) & set(q.ids) for q in questions)  # the judging adds answers, never repeats one
    assert {i for i in wanted if "/" in i and "#" in i and not i.startswith("condition_key:")} <= sections
    entity_files = ("actions", "condition_keys", "resource_types", "managed_policies")
    if all((kb_build / f"{n}.json").exists() for n in entity_files):
        entities = {r["id"] for n in entity_files for r in json.loads((kb_build / f"{n}.json").read_text())}
        assert {i for i in wanted if i.split(":", 1)[0] in
                ("action", "condition_key", "resource_type", "managed_policy")} <= entities


def test_cold_ask_imports_no_kb_files(index, monkeypatch):
    """ask answers from the index alone: the KB folder may be gone (the server needs only kb/index)."""
    monkeypatch.setenv("IAMKB_BUILD", os.devnull)
    assert ask("DeleteTags", index=index)["results"][0]["id"] == "action:autoscaling:DeleteTags"


# --- the rerank and the query parser (issue 6, continued) ------------------------------------------------------

def _toc(*targets: tuple[str, str]) -> list[dict]:
    """A page's "Topics" paragraph and its list of links to its subsections, as the parser writes them."""
    items = [[{"type": "paragraph", "text": title,
               "inlines": [{"t": "link", "href": "#" + anchor, "target": f"autoscaling/vpce#{anchor}",
                            "c": [{"t": "text", "v": title}]}]}] for anchor, title in targets]
    return [{"type": "paragraph", "text": "Topics", "inlines": []}, {"type": "list", "items": items}]


def _tree_kb(folder: Path, regions: int) -> None:
    """Pages with subsections, and `regions` reference actions named ...Region... that crowd a question about
    Regions: what the rerank's section/subsection rule and the separate entity pool are for."""
    page = "Amazon EC2 Auto Scaling and interface VPC endpoints"
    intro = ("You can configure Amazon EC2 Auto Scaling to use an interface VPC endpoint. Amazon EC2 Auto Scaling "
             "VPC endpoints keep Auto Scaling traffic in the AWS network.")
    top = _section("vpce", "vpce", page, intro + "\nTopics\nCreate a VPC endpoint policy", level=1)
    top["blocks"] += _toc(("vpce-policy", "Create a VPC endpoint policy"))
    top["path"] = [page]
    child = _section("vpce", "vpce-policy", "Create a VPC endpoint policy",
                     "You can attach a policy to your endpoint to control access to the API.")
    child.update(parent=top["id"], path=[page, "Create a VPC endpoint policy"])
    slr = _section("slr", "slr", "Service-linked roles",
                   "A unique type of IAM role that is linked directly to a service.", level=1)
    slr["path"] = ["Service-linked roles"]
    slr_kids = []
    for anchor, title in (("slr-create", "Create a service-linked role"),
                          ("slr-delete", "Delete a service-linked role")):
        kid = _section("slr", anchor, title, f"{title.split()[0]} a service-linked role: the service-linked role "
                                             f"is a role linked to a service-linked role.")
        kid.update(parent=slr["id"], path=["Service-linked roles", title])
        slr_kids.append(kid)
    region = _section("keys", "requested-region", "aws:RequestedRegion",
                      "Use this key to control which Regions can be requested.", level=1)
    sections = [top, child, slr, *slr_kids, region]
    pages = [{"id": f"autoscaling/{p}", "guide": "autoscaling", "page": p, "title": t, "url": URL + p,
              "source": {}, "sections": [s["id"] for s in sections if s["page"] == f"autoscaling/{p}"]}
             for p, t in (("vpce", page), ("slr", "Service-linked roles"), ("keys", "Keys"))]
    actions = [{"id": f"action:svc{i}:{name}", "service": f"svc{i}", "name": name,
                "description": f"Grants permission to {verb}", "access_level": "List",
                "resource_types": [], "condition_keys": [], "dependent_actions": []}
               for i in range(regions) for name, verb in (("ListRegions", "list the Regions which can be used"),
                                                          ("DescribeWidgets", "describe widgets"),
                                                          ("DeleteWidgets", "delete widgets"),
                                                          ("TagWidgets", "tag widgets"),
                                                          ("UntagWidgets", "untag widgets"))]
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in {"pages": pages, "sections": sections, "examples": [], "actions": actions,
                       "condition_keys": [], "resource_types": [], "managed_policies": [], "services": []}.items():
        (folder / f"{name}.json").write_text(json.dumps(data), encoding="utf-8")


@pytest.fixture(scope="module")
def tree_index(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    _tree_kb(root / "build", regions=60)
    counts = build_index(root / "build", root / "index", root / "none.yml", root / "none.json")
    assert counts == {"action": 60 * 5, "section": 6}
    return root / "index"


def test_section_body_drops_the_table_of_contents_and_the_code():
    from iamkb.search.documents import section_body

    s = _section("p", "a", "Page", "Intro words.\nTopics\nCreate a VPC endpoint policy", level=1, code=POLICY)
    s["text"] += "\n" + POLICY + "\nAfter the policy."
    s["blocks"] += _toc(("vpce-policy", "Create a VPC endpoint policy"))
    assert section_body(s) == "Intro words.\nAfter the policy."


def _ranked(index: Path, question: str, **weights) -> list[str]:
    """The rerank's order with some of its weights changed (to show what one of them does)."""
    from dataclasses import replace

    from iamkb.search import features, ranking, retrieval
    from iamkb.search.engine import engine

    e = engine(index)
    w = replace(e.params.weights, **weights)
    q = e.parse(question)
    named = retrieval.named_entities(e, q)
    units = features.units(e, q, w)
    candidates = retrieval.candidates(e, q, named, units, semantic=bool(w.semantic))
    return [c.hit.id for c in ranking.rerank(e, q, candidates, named, units, w)]


def test_a_subsection_that_says_more_of_the_question_ranks_above_its_page(tree_index):
    # Without the rule the page wins (it repeats "Auto Scaling" and "VPC endpoint"); only the subsection's
    # heading path says "policy" as well.
    question = "vpc endpoint policy for auto scaling"
    assert _ranked(tree_index, question, specific_top=0)[:2] == ["autoscaling/vpce#vpce", "autoscaling/vpce#vpce-policy"]
    assert ids(ask(question, index=tree_index))[:2] == ["autoscaling/vpce#vpce-policy", "autoscaling/vpce#vpce"]


def test_what_is_asks_for_the_overview(tree_index):
    question = "what is a service-linked role"
    # lexical signals only: the sentence embedding alone also puts this tiny KB's overview first
    assert _ranked(tree_index, question, definition=0.0, semantic=0.0)[0] != "autoscaling/slr#slr"
    assert ids(ask(question, index=tree_index))[0] == "autoscaling/slr#slr"
    assert ids(ask("delete a service-linked role", index=tree_index))[0] == "autoscaling/slr#slr-delete"


def test_many_matching_entities_do_not_crowd_out_the_section(tree_index):
    from iamkb.search.params import load

    retrieve_entities = load().pools.retrieve_entities

    out = ids(ask("restrict which regions people can use", index=tree_index))
    assert out[0] == "autoscaling/keys#requested-region"
    assert sum(1 for i in out if i.startswith("action:")) == min(retrieve_entities, len(out) - 1)


def test_named_entity_first_only_when_the_question_is_about_it(index):
    assert ids(ask("DeleteTags access level", index=index))[0] == "action:autoscaling:DeleteTags"
    # more words than the name: the section that shows it comes first, the entity right after
    out = ids(ask("example denying DeleteTags on production groups with a tag condition", index=index))
    assert out[:2] == ["autoscaling/demo#delete-policy", "action:autoscaling:DeleteTags"]


def test_spelling_correction_keeps_known_words_and_fixes_hyphenated_ones(index):
    from iamkb.search.engine import Engine

    e = Engine(index)
    e.vocabulary = {**e.vocabulary, "parent": 3, "policy": 500, "service-linked": 30, "linked": 30}
    fixes = e.parse("servce-linkd paren polcy deleting permisison").corrections
    assert fixes == {"servce-linkd": "service-linked", "polcy": "policy"}
    e.vocabulary["permission"] = 40
    assert e.parse("permisison").corrections == {"permisison": "permission"}  # a swap is one edit


def test_spelling_correction_keeps_the_first_letter(index):
    from iamkb.search.engine import Engine

    e = Engine(index)
    e.vocabulary = {**e.vocabulary, "action": 900, "time": 300, "launch": 200}
    # two edits away, but another word, not a typo: "vacation" is not "action", "uptime" not "time"
    assert e.parse("vacation uptime").corrections == {}
    assert e.parse("lanch").corrections == {"lanch": "launch"}


def test_unit_matching_needs_the_whole_name_or_its_expansion(index):
    from iamkb.search.features import Unit, coverage

    unit = Unit("awsserviceroleforautoscaling",
                ((frozenset({"awsserviceroleforautosc"}), 1.0), (frozenset({"servic", "link", "role"}), 1.0)))
    assert unit.match({"awsserviceroleforautosc"}) == 1.0
    assert unit.match({"servic", "link", "role", "other"}) == 1.0
    assert unit.match({"role"}, partial=2.0) == pytest.approx(1 / 9)
    rare = Unit("vpc", ((frozenset({"vpc"}), 1.0),), weight=3.0)
    common = Unit("auto", ((frozenset({"auto"}), 1.0),), weight=1.0)
    assert coverage({"vpc"}, [rare, common]) == 0.75


def test_a_multi_word_expansion_matches_only_where_its_words_stand_together(index):
    from iamkb.search import features
    from iamkb.search.engine import engine

    e = engine(index)  # its synonyms: cmk -> customer managed key
    q = e.parse("what does the SLR need on my CMK")
    cmk = next(u for u in features.units(e, q) if u.word == "cmk")
    phrase = features.phrase_term("customer managed key")
    assert (frozenset({phrase}), 1.0) in cmk.forms
    assert features.phrases_in("Grant it on the customer managed keys you use.", {phrase}) == {phrase}
    assert features.phrases_in("A custom suffix. The key is managed by AWS.", {phrase}) == set()
    scattered = {"custom", "manag", "kei"}  # what the words analyze to, found apart
    assert cmk.match(scattered) == 0.0 and cmk.match(scattered | {phrase}) == 1.0


# --- batches, cross-validation, corrected shorthand (issue 6, continued again) --------------------------------

def test_question_batches_are_scored_apart(tmp_path):
    from iamkb.errors import InputError
    from iamkb.search.train.evaluate import parts_of, score

    f = tmp_path / "q.yml"
    f.write_text("- {q: a, ids: [x]}\n- {q: b, ids: [y], heldout: true}\n- {q: c, ids: [z], batch: 2}\n"
                 "- {q: d, ids: [w], batch: 2, heldout: true}\n- {q: e, ids: [], batch: 2}\n")
    questions = load_questions(f)
    assert [q.batch for q in questions] == [1, 1, 2, 2, 2]
    parts = parts_of(questions)
    assert {k: [q.q for q in v] for k, v in parts.items()} == {
        "tune": ["a", "c"], "heldout": ["b", "d"], "all": ["a", "b", "c", "d"],
        "tune.b1": ["a"], "heldout.b1": ["b"], "tune.b2": ["c"], "heldout.b2": ["d"]}
    answers = {"a": ["x"], "b": ["no"], "c": ["no", "z"], "d": ["w"], "e": []}
    m = score(lambda t: answers[t], questions)["metrics"]
    assert (m["heldout.b1"]["recall@1"], m["heldout.b2"]["recall@1"], m["tune.b2"]["mrr@10"]) == (0.0, 1.0, 0.5)
    assert list(parts_of(questions[:2])) == ["tune", "heldout", "all"]  # one batch: no per-batch parts
    f.write_text("- {q: a, ids: [x], batch: zero}\n")
    with pytest.raises(InputError, match="batch"):
        load_questions(f)


def test_answers_found_by_the_pooled_judging_count_and_as_written_does_not(tmp_path):
    from iamkb.errors import InputError
    from iamkb.search.train.evaluate import score

    f = tmp_path / "q.yml"
    f.write_text("- {q: a, ids: [x], also: [y]}\n- {q: b, ids: [z]}\n- {q: c, ids: [w], heldout: true, also: [v]}\n")
    questions = load_questions(f)
    assert [q.relevant for q in questions] == [("x", "y"), ("z",), ("w", "v")]
    answers = {"a": ["y", "x"], "b": ["y", "z"], "c": ["v"]}
    scored = score(lambda t: answers[t], questions)
    assert (scored["metrics"]["tune"]["recall@1"], scored["metrics"]["heldout"]["recall@1"]) == (0.5, 1.0)
    assert (scored["as_written"]["tune"]["recall@1"], scored["as_written"]["heldout"]["recall@1"]) == (0.0, 0.0)
    assert scored["as_written"]["tune"]["mrr@10"] == 0.5  # x at 2 and z at 2
    for bad, says in (("- {q: a, ids: [], also: [y]}\n", "needs 'ids'"), ("- {q: a, ids: [x], also: y}\n", "'also'")):
        f.write_text(bad)
        with pytest.raises(InputError, match=says):
            load_questions(f)


def test_the_added_answers_are_the_judged_ones():
    """`also:` in kb/questions.yml is written by bench/pool.py from the verdicts in bench/judged.yml, never by
    hand: each added id was judged yes for that question, and each yes is in the set."""
    judged = yaml.safe_load((Path(__file__).resolve().parent.parent / "bench" / "judged.yml").read_text(encoding="utf-8"))
    questions = load_questions()
    assert set(judged) <= {q.q for q in questions}
    for q in questions:
        verdicts = judged.get(q.q, {"yes": [], "no": []})
        assert set(q.also) == set(verdicts["yes"]) - set(q.ids), q.q
        assert not set(verdicts["yes"]) & set(verdicts["no"]), q.q


def test_a_corrected_shorthand_expands_like_the_shorthand(index):
    from iamkb.search.engine import Engine
    from iamkb.search.features import phrase_term, units

    e = Engine(index)
    e.vocabulary = {**e.vocabulary, "autoscaling": 30}
    e.synonyms = {**e.synonyms, "autoscaling": ["auto scaling group"]}
    q = e.parse("autoscalling")
    assert q.corrections == {"autoscalling": "autoscaling"}
    assert q.expansions == ["auto scaling group"]
    assert set(analyze("auto scaling group")) <= set(q.terms)  # retrieved on its words
    (unit,) = units(e, q)
    assert unit.match({phrase_term("auto scaling group")}) == 1.0  # and matched where they stand together


def test_cross_validation_tunes_on_other_folds_only(index):
    from dataclasses import replace

    from iamkb.search.engine import Engine
    from iamkb.search.train import tune
    from iamkb.search.train.evaluate import Question

    assert tune.folds(list(range(7)), 3) == [[0, 3, 6], [1, 4], [2, 5]]
    e = Engine(index)
    qs = [Question("DeleteTags access level", ("action:autoscaling:DeleteTags",), "entity", False),
          Question("stop deleting scaling policies on production groups",
                   ("autoscaling/demo#delete-policy",), "plain", False),
          Question("key policy for my cmk", ("autoscaling/demo#kms",), "jargon", False)]
    prepared = tune.prepare(e, qs)
    assert tune.ranks(e, prepared, e.params.weights) == [1, 1, 1]
    # a semantic weight of -20 (meaning counted against a document) sinks the two sections' answers; each fold is
    # tuned on the other two questions only, and each fold's training questions reject it
    need(e.semantic() is not None, "the embedding model is not installed: the semantic weight needs vectors")
    start = replace(e.params.weights, semantic=-20.0)
    untuned = tune.ranks(e, prepared, start)
    assert untuned[0] == 1 and all(r != 1 for r in untuned[1:])
    cv = tune.cross_validate(e, prepared, k=3, grid={"semantic": (-20.0, 2.0)}, start=start)
    assert cv["cv_tuned"] == metrics([1, 1, 1]) and cv["cv_untuned"] == metrics(untuned)
    assert cv["changes_per_fold"] == [{"semantic": 2.0}] * 3


def test_action_answer_lists_the_resource_types_condition_keys_too(kb_build):
    """SetInstanceProtection has no action-level keys; its resource type's keys still apply to a request."""
    import json as _json

    from iamkb.search.documents import action_answer

    actions = _json.loads((kb_build / "actions.json").read_text(encoding="utf-8"))
    rec = next(a for a in actions if a["id"] == "action:autoscaling:SetInstanceProtection")
    assert rec["condition_keys"] == []
    expected = sorted({k for rt in rec["resource_types"] for k in rt["condition_keys"]})
    assert expected and f"condition keys {', '.join(expected)}" in action_answer(rec, {})


def test_a_qualified_name_typed_with_a_space_is_named_when_the_question_says_its_kind(kb_build):
    from iamkb.paths import index_dir
    from iamkb.search import retrieval
    from iamkb.search.engine import engine

    e = engine(index_dir())
    named = retrieval.named_entities(e, e.parse("ec2 instance resource type arn"))
    assert named == ["resource_type:ec2:instance"]
    assert ids(ask("ec2 instance resource type arn"))[0] == "resource_type:ec2:instance"
    assert retrieval.named_entities(e, e.parse("aws sourceip condition key")) == ["condition_key:aws:SourceIp"]
    # without the kind, "ec2 instance" is only words
    assert retrieval.named_entities(e, e.parse("role for the ec2 instance of my group")) == []


def test_no_entity_the_question_does_not_name_ranks_above_one_it_names():
    from iamkb.search.engine import Hit
    from iamkb.search.features import Candidate
    from iamkb.search.ranking import named_before_namesakes

    def cand(ident: str, kind: str) -> Candidate:
        return Candidate(hit=Hit(ident, kind, "iam", ident, "", 1.0, "", {}))

    ranked = [cand("action:ssm:GetParameter", "action"), cand("sec#a", "section"),
              cand("action:ssm:GetParameters", "action"), cand("sec#b", "section")]
    out = [c.hit.id for c in named_before_namesakes(ranked, ["action:ssm:GetParameters"])]
    assert out == ["sec#a", "action:ssm:GetParameters", "action:ssm:GetParameter", "sec#b"]
    assert named_before_namesakes(ranked, []) == ranked
    assert [c.hit.id for c in named_before_namesakes(ranked, ["action:ssm:GetParameter"])] == \
        [c.hit.id for c in ranked]


def test_index_is_rebuilt_only_when_its_inputs_change(tmp_path, monkeypatch, capsys):
    """`iamkb index` keeps an index built from the same KB, synonyms, ranker, code and packages (make serve and
    make test run it every time); any one of them changing rebuilds it, and --force always does."""
    from iamkb.search import build as index_build

    kb = tmp_path / "kb"
    _write_kb(kb / "build", reference=False)
    monkeypatch.setenv("IAMKB_KB", str(kb))
    monkeypatch.delenv("IAMKB_BUILD", raising=False)
    monkeypatch.delenv("IAMKB_INDEX", raising=False)

    def run(*args: str) -> dict:
        assert main(["index", "--json", *args]) == 0
        return json.loads(capsys.readouterr().out)

    first = run()
    assert first["built"] and first["documents"] == {"example": 1, "section": 4}
    generation = (kb / "index").resolve()
    again = run()
    assert not again["built"] and again["documents"] == first["documents"]
    assert (kb / "index").resolve() == generation
    (kb / "synonyms.yml").write_text("asg: [auto scaling group]\n", encoding="utf-8")
    assert run()["changed"] == ["synonyms"]
    sections = json.loads((kb / "build" / "sections.json").read_text())
    sections[0]["text"] += " More words."
    (kb / "build" / "sections.json").write_text(json.dumps(sections), encoding="utf-8")
    (kb / "build" / "notes.txt").write_text("not read by the index")
    assert run()["changed"] == ["kb/build"]
    monkeypatch.setattr(index_build, "PACKAGES", (*index_build.PACKAGES, "no-such-package"))
    assert run()["changed"] == ["packages"]
    assert not run()["built"]
    forced = run("--force")
    assert forced["built"] and forced["changed"] == []
    (kb / "index" / "meta.json").write_text("[]", encoding="utf-8")  # no usable record: rebuilt, not a crash
    assert run()["built"]
    assert main(["index"]) == 0
    assert "is up to date" in capsys.readouterr().out


def test_the_index_hash_covers_every_iamkb_module_the_build_runs():
    from iamkb.search import build as index_build

    assert uncovered_modules("iamkb.search.build", index_build.CODE) == set()


def test_table_rows_carry_their_column_headers_for_the_passages():
    from iamkb.search.documents import table_rows

    def cells(*texts):
        return [{"text": t, "inlines": []} for t in texts]

    table = {"type": "table", "header": cells("Service", "ABAC", "Notes"),
             "rows": [cells("AWS KMS", "Yes", ""), cells("Amazon EBS", "Partial", "see below")]}
    nested = {"type": "callout", "kind": "note", "blocks": [
        {"type": "table", "header": cells("Key"), "rows": [cells("aws:SourceIp")]}]}
    rows = table_rows([{"type": "paragraph", "text": "Intro."}, table, nested])
    assert rows == {"Service | ABAC | Notes": "", "AWS KMS | Yes | ": "Service: AWS KMS; ABAC: Yes",
                    "Amazon EBS | Partial | see below": "Service: Amazon EBS; ABAC: Partial; Notes: see below",
                    "Key": "", "aws:SourceIp": "Key: aws:SourceIp"}


def _whoosh_top(e, terms: list[str], boosts: dict[str, float], limit: int) -> list[tuple[float, int]]:
    return list(e.searcher.search(e.whoosh_query(terms, boosts), limit=limit, optimize=False).top_n)


def test_ask_retrieval_sums_the_postings_to_whooshs_own_ranking(kb_build):
    """Ask's retrieval adds up memoized per-term postings instead of running Whoosh's Or query (a quarter of
    the time per question, `Engine.top_docs`): for every question of the set, the same documents in the same
    order with the same scores as Whoosh's search, and the same matched terms per document."""
    from iamkb.paths import index_dir
    from iamkb.search.params import load

    ask_boosts, depth = load().ask_boosts, load().pools.depth
    from iamkb.search.engine import engine

    e = engine(index_dir())
    questions = [q.q for q in load_questions()]
    compared = 0
    for text in questions:
        terms = e.parse(text).terms
        if not terms:
            continue
        expected = _whoosh_top(e, terms, ask_boosts, depth)
        got = e.top_docs(terms, ask_boosts, depth)
        assert [d for _, d in got] == [d for _, d in expected], text
        assert max((abs(a - b) for (a, _), (b, _) in zip(got, expected, strict=True)), default=0) < 1e-9, text
        compared += 1
    assert compared == sum(1 for text in questions if e.parse(text).terms)
    # what each candidate matched, read back from the same postings, against Whoosh's own term matchers
    terms = e.parse(questions[0]).terms
    docnums = [d for _, d in e.top_docs(terms, ask_boosts, depth)]
    reader = e.searcher.reader()
    for term, holders in e.term_docs(terms, list(ask_boosts), docnums).items():
        truth = {d for f in ask_boosts if (f, term) in reader for d in reader.postings(f, term).all_ids()}
        assert holders == truth & set(docnums), term


def test_ask_retrieval_keeps_the_order_of_ties_and_counts_a_repeated_term_as_whoosh_does(index):
    from iamkb.search.params import load

    ask_boosts = load().ask_boosts
    from iamkb.search.engine import engine

    e = engine(index)
    for terms in (["delet", "delet", "polici"], ["tag"], ["autoscal", "group", "nosuchterm"], ["nosuchterm"]):
        assert e.top_docs(terms, ask_boosts, 50) == _whoosh_top(e, terms, ask_boosts, 50), terms


def test_an_action_said_in_words_joins_the_pool(index):
    """A question that says an action's words without its name ("delete the tags") gets the action among the
    candidates; one word of a two-word name is not enough."""
    from iamkb.search.engine import engine
    from iamkb.search.retrieval import said_actions

    e = engine(index)
    assert said_actions(e, e.parse("what permission do I need to delete the tags on a group")) == [
        "action:autoscaling:DeleteTags"]
    assert said_actions(e, e.parse("how do I delete a group")) == []
    assert said_actions(e, e.parse("creating an auto scaling group, then deleting its tag")) == [
        "action:autoscaling:CreateAutoScalingGroup", "action:autoscaling:DeleteTags"]
    out = ask("what permission do I need to delete the tags on a group", index=index)
    assert "action:autoscaling:DeleteTags" in ids(out)


def test_said_actions_prefer_the_longest_name_and_auto_scaling(kb_build):
    """On the real reference: every action's words are in the index, "force-deleting an auto scaling group"
    says DeleteAutoScalingGroup (not IAM's DeleteGroup, whose words it holds too), "roll back" is Rollback, and
    Auto Scaling's action comes first where another service has one of the same length."""
    from iamkb.paths import index_dir
    from iamkb.search.engine import engine
    from iamkb.search.params import load
    from iamkb.search.retrieval import said_actions

    e = engine(index_dir())
    reference = json.loads((kb_build / "actions.json").read_text())
    assert set(e.action_words) == {a["id"] for a in reference}
    said = said_actions(e, e.parse("can I stop people from force-deleting an auto scaling group"))
    assert said[0] == "action:autoscaling:DeleteAutoScalingGroup" and "action:iam:DeleteGroup" not in said
    assert said_actions(e, e.parse("permision needed to roll back an instace refresh")) == [
        "action:autoscaling:RollbackInstanceRefresh"]
    said = said_actions(e, e.parse("permission to describe the account limits"))
    assert said[0] == "action:autoscaling:DescribeAccountLimits" and len(said) <= load().pools.said_actions
    assert "action:elasticloadbalancing:DescribeAccountLimits" in said


def test_passage_coverage_is_the_most_of_the_question_two_consecutive_sentences_say(index):
    from iamkb.search.engine import Hit, engine
    from iamkb.search.features import Candidate, passage_coverage, units
    from iamkb.search.params import load

    e = engine(index)
    query = e.parse("which key policy lets the role encrypt volumes")
    qu = units(e, query)

    def section(body: str, kind: str = "section") -> Candidate:
        hit = Hit(id="s", kind=kind, guide="autoscaling", title="t", url="", score=1.0, body=body, data={})
        return Candidate(hit=hit, coverage=0.25)

    together = section("Unrelated words here. The key policy lets the role encrypt volumes. More text follows.")
    apart = section("The key policy is here. Nothing. Nothing else. Nothing more. The role can encrypt. "
                    "Nothing again. Nothing still. It covers volumes.")
    assert passage_coverage(together, qu, load().weights.partial) == 1.0
    assert 0 < passage_coverage(apart, qu, load().weights.partial) < 1.0
    assert passage_coverage(section(""), qu, load().weights.partial) == 0.0
    assert passage_coverage(section("anything", kind="action"), qu, load().weights.partial) == 0.25  # an entity: its own


def test_an_engine_asks_for_one_blas_thread_before_numpy_loads(index):
    """Ask's retrieval loads numpy; each `ask --file` worker must have asked OpenBLAS for one thread before
    that (two spin-waiting threads per worker on two cores ran the batch at 5 q/s instead of 26)."""
    import subprocess
    import sys

    code = ("import os, sys\nfrom pathlib import Path\nfrom iamkb.search.engine import Engine\n"
            f"Engine(Path({str(index)!r}))\n"
            "assert 'numpy' not in sys.modules, 'numpy loaded before the thread setting'\n"
            "print(os.environ.get('OPENBLAS_NUM_THREADS'))\n")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1"]


# --- the sections' written questions (kb/section_questions.yml) ------------------------------------------------

GONE = "autoscaling/gone#gone"
TERMINATE = "why do instances with encrypted EBS volumes terminate right after launch"


def write_section_questions(path: Path, entries: dict[str, tuple[str, list[str]]]) -> Path:
    """A section-questions file: {section id: (the text its questions were written from, questions)}."""
    from iamkb.search.build import text_digest

    path.write_text(yaml.safe_dump({i: {"text": text_digest(t), "questions": qs} for i, (t, qs) in entries.items()}))
    return path


@pytest.fixture(scope="module")
def asked_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("asked")
    _write_kb(root / "build")
    kms, slr = SECTIONS[3], SECTIONS[2]
    write_section_questions(root / "questions.yml", {
        kms["id"]: (kms["text"], [TERMINATE]),
        slr["id"]: ("the text before an upstream change", ["can I rename the Auto Scaling SLR"]),
        GONE: ("a section the KB no longer has", ["what did this section say"])})
    build_index(root / "build", root / "index", root / "none.yml", root / "none.json", root / "questions.yml")
    return root


def test_section_questions_are_indexed_and_what_needs_a_look_is_listed(asked_root):
    meta = json.loads((asked_root / "index" / "meta.json").read_text())
    assert meta["section_questions"] == {"sections": 2, "questions": 2, "stale": [SECTIONS[2]["id"]],
                                         "unused": [GONE]}


def test_words_only_a_written_question_says_find_its_section_but_do_not_make_ask_claim_an_answer(asked_root):
    from iamkb.search.train.evaluate import ABSTAIN_PREFIX

    index = asked_root / "index"
    assert ids(search("terminate right after", index=index))[0] == SECTIONS[3]["id"]
    out = ask("instances terminating right after launch", index=index)
    assert out["results"][0]["id"] == SECTIONS[3]["id"]
    # the section's own text says none of it: the abstention reads the docs' words, not the KB's paraphrases
    assert out["answer"].startswith(ABSTAIN_PREFIX)
    # without the file, the same question does not find the section first
    plain = asked_root / "plain"
    build_index(asked_root / "build", plain, asked_root / "none.yml", asked_root / "none.json",
                asked_root / "none-questions.yml")
    assert json.loads((plain / "meta.json").read_text())["section_questions"]["sections"] == 0
    assert ask("instances terminating right after launch", index=plain)["results"][0]["id"] != SECTIONS[3]["id"]


@pytest.mark.parametrize(("text", "message", "where"), [
    ("a: [unclosed\n", "malformed YAML at line 2", ""),
    ("- a list\n", "expected a mapping of section id to {text, questions}", ""),
    ("x#y:\n  text: 'abc'\n  questions: []\n", "questions must be a non-empty list of strings", ": x#y.questions"),
    ("x#y:\n  text: 'abc'\n  questions: [ok, '']\n", "questions must be a non-empty list of strings",
     ": x#y.questions"),
    ("x#y:\n  questions: [ok]\n", "text must be the quoted hash of the section's text", ": x#y.text"),
])
def test_a_bad_section_questions_file_is_a_one_line_error_naming_the_entry(tmp_path, text, message, where):
    from iamkb.errors import InputError
    from iamkb.search.build import load_section_questions

    path = tmp_path / "questions.yml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_section_questions(path)
    assert message in str(err.value) and err.value.where == f"{path}{where}"


def test_every_section_of_the_kb_has_questions_written_from_its_current_text(kb_build):
    """A data check: when the pinned sources move on, this lists the sections whose questions need a look."""
    from iamkb.paths import kb_dir
    from iamkb.search.build import SECTION_QUESTIONS, load_section_questions

    sections = json.loads((kb_build / "sections.json").read_text())
    asked = load_section_questions(kb_dir() / SECTION_QUESTIONS)
    report = asked.report(sections)
    assert (report["sections"], report["stale"], report["unused"]) == (len(sections), [], [])
    assert report["questions"] == sum(len(q) for q in asked.questions.values())

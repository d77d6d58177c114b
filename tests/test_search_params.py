"""Search's tuned numbers come from one file (kb/search.yml), compiled into the index, read by every stage."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

from iamkb.errors import InputError
from iamkb.search import params

ROOT = Path(__file__).resolve().parent.parent


def test_the_file_gives_every_parameter_and_the_index_carries_them(tmp_path):
    from test_search import _write_kb

    from iamkb.search.build import build_index
    from iamkb.search.engine import engine

    loaded = params.load(ROOT / "kb" / params.FILE)
    assert all(getattr(loaded.weights, f.name) is not None for f in fields(params.Weights))
    assert {"title", "body"} <= set(loaded.search_boosts) and {"title", "names", "body"} <= set(loaded.ask_boosts)
    assert "how" in loaded.query.question_words and "autoscaling" not in loaded.query.question_words
    assert loaded.lexical_weights.entity == 1.0 != loaded.weights.entity  # ask.lexical on top of ask.weights
    assert loaded.lexical_weights.partial == loaded.weights.partial
    _write_kb(tmp_path / "build")
    build_index(tmp_path / "build", tmp_path / "index", tmp_path / "none.yml", tmp_path / "none.json")
    assert engine(tmp_path / "index").params == loaded  # the toy KB's folder has none: the project's own
    changed = (ROOT / "kb" / params.FILE).read_text().replace("    retrieve: 40 ", "    retrieve: 7 ")
    (tmp_path / params.FILE).write_text(changed)
    build_index(tmp_path / "build", tmp_path / "index", tmp_path / "none.yml", tmp_path / "none.json",
                search_params=tmp_path / params.FILE)
    e = engine(tmp_path / "index")
    assert e.params.pools.retrieve == 7 and e.params.digest != loaded.digest


def test_the_digest_is_of_the_values_not_of_the_comments(tmp_path):
    text = (ROOT / "kb" / params.FILE).read_text()
    (tmp_path / "a.yml").write_text(text)
    (tmp_path / "b.yml").write_text("# another comment\n" + text.replace("# boost", "# weight"))
    (tmp_path / "c.yml").write_text(text.replace("l2: 0.01", "l2: 0.02"))
    a, b, c = (params.load(tmp_path / f"{n}.yml") for n in "abc")
    assert a.digest == b.digest != c.digest
    assert params.Params.from_json(json.loads(json.dumps(a.to_json()))) == a


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace("    entity: 0.55", "    entity: 0.55\n    entitty: 1"), "unknown ['entitty']"),
    (lambda t: t.replace("    retrieve_entities: 8", ""), "missing ['retrieve_entities']"),
    (lambda t: t.replace("field_boosts: {title: 1.0,", "field_boosts: {title: high,"), "field name to number"),
    (lambda t: t.replace("  train:\n    l2: 0.01", ""), "'train'"),
    (lambda t: t.replace("    entity: 1.0 ", "    entitty: 1.0 "), "unknown ['entitty'] (ask.lexical"),
    (lambda t: t + "\n  : [", "malformed YAML"),
])
def test_a_bad_parameter_file_is_one_line_naming_it(tmp_path, edit, message):
    bad = tmp_path / params.FILE
    bad.write_text(edit((ROOT / "kb" / params.FILE).read_text()))
    with pytest.raises(InputError) as err:
        params.load(bad)
    text = str(err.value)
    assert message in text and str(bad) in text and "\n" not in text

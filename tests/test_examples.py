"""Runnable examples: every docs policy example has scenarios that pass under the engine, and the runner,
catalog and drift list behave as documented (iamkb/examples.py)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from iamkb import examples as ex
from iamkb.cli import main
from iamkb.errors import InputError
from iamkb.paths import kb_dir

SCENARIOS = kb_dir() / "scenarios"
SCHEMA = kb_dir() / "schema" / "scenarios.schema.json"

# The scenarios marked in kb/scenarios as the docs' own example being wrong or ambiguous, reviewed by hand:
# each is listed in the drift report with its reason.
MARKED = {
    ("example:autoscaling/ec2-auto-scaling-vpc-endpoints#create-vpce-policy-asg:1",
     "delete a scaling policy through the endpoint"): "docs_wrong",
    ("example:autoscaling/security_iam_id-based-policy-examples#policy-example-tags:3",
     "an allowed key plus another key"): "docs_wrong",
    ("example:autoscaling/security_iam_id-based-policy-examples#policy-example-tags:2",
     "only purpose=webserver"): "ambiguous",
    ("example:autoscaling/ec2-auto-scaling-launch-template-permissions#policy-example-launch-template-createtags:1",
     "tag an instance as RunInstances creates it"): "ambiguous",
    ("example:autoscaling/ec2-auto-scaling-launch-template-permissions#policy-example-launch-template-createtags:1",
     "tag a volume as RunInstances creates it"): "ambiguous",
    # IAM User Guide examples
    ("example:iam/id_roles_use_switch-role-ec2#roles-usingrole-ec2instance-permissions:1",
     "launch an instance"): "docs_wrong",
    ("example:iam/id_roles_use_switch-role-ec2#switch-role-ec2-another-account:1",
     "list all buckets of the account"): "ambiguous",
    ("example:iam/reference_policies_condition-keys#condition-keys-principaltag:2",
     "team red reads an object of DOC-EXAMPLE-BUCKET-red"): "docs_wrong",
    ("example:iam/reference_policies_condition-keys#condition-keys-requesttag:1",
     "tag an instance environment=preprod and team=engineering"): "docs_wrong",
    ("example:iam/reference_policies_condition-keys#condition-keys-requesttag:1",
     "tag an instance environment=production and team=engineering"): "docs_wrong",
    ("example:iam/reference_policies_condition-keys#condition-keys-resourceaccount:1",
     "a table of another account that trusts the caller"): "ambiguous",
    ("example:iam/reference_policies_condition-keys#condition-keys-sourceip:1",
     "a service calls S3 for the user on DOC-EXAMPLE-BUCKET3"): "docs_wrong",
    ("example:iam/reference_policies_elements_condition_operators#Conditions_ARN:1",
     "SNS delivers a message from the topic"): "docs_wrong",
    ("example:iam/reference_policies_elements_notprincipal#specifying-notprincipal:1",
     "another user of 444455556666"): "ambiguous",
    ("example:iam/reference_policies_elements_notprincipal#specifying-notprincipal:2",
     "another session of the same role"): "ambiguous",
    ("example:iam/reference_policies_elements_notprincipal#specifying-notprincipal:2",
     "a user of 444455556666"): "ambiguous",
    ("example:iam/using-service-linked-roles#service-linked-role-permissions:3",
     "edit the description of a service role"): "docs_wrong",
    ("example:iam/using-service-linked-roles#service-linked-role-permissions:6",
     "list roles"): "docs_wrong",
    # fragments and corrected blocks of the IAM User Guide, run wrapped or corrected
    ("example:iam/reference_policies_variables#policy-vars-no-value:1", "another team"): "docs_wrong",
    ("example:iam/reference_policies_variables#policy-vars-no-value:1", "no team tag on the principal"): "docs_wrong",
    ("example:iam/troubleshoot_roles#troubleshoot_roles_cant-assume-role:4",
     "at the first second of July 1, 2017"): "docs_wrong",
}


@pytest.fixture(scope="module")
def kb(kb_build: Path) -> dict:
    return {name: json.loads((kb_build / f"{name}.json").read_text(encoding="utf-8"))
            for name in ("pages", "sections", "examples")}


@pytest.fixture(scope="module")
def files() -> dict[str, ex.ScenarioFile]:
    return ex.load_scenario_files()


@pytest.fixture(scope="module")
def reports(kb: dict, files: dict) -> list[ex.ExampleReport]:
    return ex.run_all(kb["examples"], files, ex.default_evaluator())


# ------------------------------------------------------------------------------------------- coverage


def test_every_auto_scaling_example_has_scenarios(kb: dict, files: dict) -> None:
    autoscaling = [e for e in kb["examples"] if e["page"].startswith("autoscaling/")]
    missing = [e["id"] for e in autoscaling if e["id"] not in files]
    assert missing == []
    # The inventory of the default corpus, checked against the KB rather than typed into the runner.
    assert len(autoscaling) == 33
    formats = sorted(e["format"] for e in autoscaling)
    assert formats.count("document") == 27
    assert formats.count("statement") == 4
    assert sorted(f for f in formats if f not in ("document", "statement")) == ["cli_output", "json_string"]


def test_every_policy_block_of_both_guides_runs(kb: dict, files: dict) -> None:
    """Every policy block of the default corpus has a policy to run (complete, corrected, or a fragment wrapped in
    the smallest complete policy) and a scenario file, in both guides."""
    assert [e["id"] for e in kb["examples"] if e["policy"] is None] == []
    assert sorted(files) == sorted(e["id"] for e in kb["examples"])
    assert {e["page"].split("/")[0] for e in kb["examples"]} == set(ex.REQUIRED_GUIDES)
    fragments = [e for e in kb["examples"] if e["format"] == ex.FRAGMENT]
    assert fragments and all(e["wrapped"] and e["wrapping"] for e in fragments)
    assert [e["id"] for e in kb["examples"] if e["wrapped"] and e["format"] != ex.FRAGMENT] == []


def _names_everyone(policy: dict) -> bool:
    """A statement whose principal element covers anonymous callers: "*", {"AWS": "*"} or a NotPrincipal."""
    body = policy.get("Statement", [])
    for st in body if isinstance(body, list) else [body]:
        principal = st.get("Principal")
        aws = principal.get("AWS") if isinstance(principal, dict) else None
        if "NotPrincipal" in st or principal == "*" or aws == "*" or (isinstance(aws, list) and "*" in aws):
            return True
    return False


def test_every_resource_policy_open_to_everyone_has_an_anonymous_scenario(kb: dict, files: dict) -> None:
    """iam/reference_policies_elements_principal#principal-anonymous: such a policy speaks to anonymous callers
    too, so each example of one says what an unsigned request gets."""
    open_to_all = [e["id"] for e in kb["examples"] if e["kind"] == "resource_policy" and _names_everyone(e["policy"])]
    assert open_to_all
    assert [i for i in open_to_all if not any(s["request"].get("anonymous") for s in files[i].scenarios)] == []


def test_every_example_has_at_least_two_scenarios(reports: list[ex.ExampleReport]) -> None:
    assert [(r.id, r.scenarios) for r in reports if r.scenarios < 2] == []


def test_a_runnable_example_without_scenarios_fails_and_a_block_without_a_reading_does_not(kb: dict) -> None:
    """The coverage rule as the runner applies it: a missing file is an error for an IAM User Guide example (as
    for an Auto Scaling one) and for a wrapped fragment; a block with no reading at all has nothing to run."""
    complete = next(e for e in kb["examples"] if e["page"].startswith("iam/") and e["format"] == "document")
    fragment = next(e for e in kb["examples"] if e["format"] == ex.FRAGMENT)
    for example in (complete, fragment):
        missing = ex.run_example(example, None, ex.default_evaluator())
        assert ex.is_failure(missing)
        assert missing.error == f"no scenarios: write kb/scenarios/{ex.file_name(example['id'])}"
    unread = {**fragment, "policy": None, "wrapped": False, "wrapping": None}
    uncovered = ex.run_example(unread, None, ex.default_evaluator())
    assert not ex.is_failure(uncovered)
    assert (uncovered.scenarios, uncovered.error) == (0, None)


def test_every_scenario_file_belongs_to_an_example(kb: dict, files: dict) -> None:
    ids = {e["id"] for e in kb["examples"]}
    assert sorted(set(files) - ids) == []
    assert sorted(p.name for p in SCENARIOS.glob("*.json")) == sorted(ex.file_name(i) for i in files)


def test_examples_with_scenarios_have_a_policy_to_run(kb: dict, files: dict) -> None:
    by_id = {e["id"]: e for e in kb["examples"]}
    assert [i for i in files if by_id[i]["policy"] is None] == []


def test_every_scenario_quotes_its_page(kb: dict, files: dict) -> None:
    """Each scenario's doc sentence occurs verbatim in the parsed text of the example's page."""
    def norm(text: str) -> str:
        return re.sub(r"\s+", " ", text).strip()

    page_text: dict[str, str] = {}
    for section in kb["sections"]:
        page_text[section["page"]] = page_text.get(section["page"], "") + " " + section["text"]
    by_id = {e["id"]: e for e in kb["examples"]}
    unquoted = [(i, s["name"]) for i, f in files.items() for s in f.scenarios
                if norm(s["doc"]) not in norm(page_text[by_id[i]["page"]])]
    assert unquoted == []


def test_prose_implying_both_gets_both(files: dict) -> None:
    """Every example gets at least one allowed and one denied request (a deny-only policy gets the denied
    case and the case it does not touch, which another policy allows)."""
    lacking = [i for i, f in files.items()
               if {s["expected"] == "Allowed" for s in f.scenarios} != {True, False}]
    assert lacking == []


# ------------------------------------------------------------------------------------------- results


def test_all_scenarios_pass(reports: list[ex.ExampleReport]) -> None:
    failing = {r.id: [(x.name, x.expected, x.actual) for x in r.results if x.outcome == "failed"] or r.error
               for r in reports if ex.is_failure(r)}
    assert failing == {}


def test_marked_scenarios_are_exactly_the_reviewed_ones(reports: list[ex.ExampleReport]) -> None:
    marked = {(r.id, x.name): x.outcome for r in reports for x in r.results if x.status != "ok"}
    assert marked == MARKED


def test_counts_add_up(reports: list[ex.ExampleReport], files: dict) -> None:
    ran = [r for r in reports if r.id in files]
    assert len(ran) == len(files)
    for r in ran:
        assert r.scenarios == len(files[r.id].scenarios)
        assert r.passed + r.failed + r.docs_wrong + r.ambiguous == r.scenarios


# ------------------------------------------------------------------------------------------- catalog + drift


@pytest.fixture(scope="module")
def catalog(kb: dict) -> dict:
    return ex.build_catalog(kb)


def test_catalog_entry_for_the_delete_policy_example(catalog: dict) -> None:
    entries = {e["id"]: e for e in catalog["example_catalog"]}
    entry = entries["example:autoscaling/security_iam_id-based-policy-examples#policy-example-delete-policy:1"]
    assert entry["title"] == "Control which scaling policies can be deleted"
    assert entry["kind"] == "identity"
    assert entry["actions"] == ["autoscaling:DeletePolicy"]
    assert entry["condition_keys"] == ["autoscaling:ResourceTag/environment"]
    assert "denies the action if the Auto Scaling group" in entry["intro"]
    outcomes = {s["name"]: (s["expected"], s["actual"], s["outcome"]) for s in entry["scenarios"]}
    assert outcomes["delete a policy of a production group"] == ("ExplicitlyDenied", "ExplicitlyDenied", "passed")
    # every scenario in the catalog is runnable as it stands: the example's policy is filled in
    assert all(ex.PLACEHOLDER not in json.dumps(s["scenario"]) for s in entry["scenarios"])


def test_catalog_covers_every_example_and_key_policies_hold_the_statement(kb: dict, catalog: dict) -> None:
    assert [e["id"] for e in catalog["example_catalog"]] == sorted(e["id"] for e in kb["examples"])
    entry = next(e for e in catalog["example_catalog"]
                 if e["id"] == "example:autoscaling/key-policy-requirements-EBS-encryption#policy-example-cmk-access:2")
    first = entry["scenarios"][0]["scenario"]["resourcePolicy"]["Statement"]
    assert first[0]["Sid"] == "Allow attachment of persistent resources"
    assert first[1]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}


def test_drift_lists_marked_scenarios_and_the_corrected_example(catalog: dict) -> None:
    drift = ex.example_drift(catalog)
    corrected = {(e["id"], None) for e in catalog["example_catalog"] if e["corrected"]}
    assert corrected == {
        ("example:autoscaling/prepare-for-lifecycle-notifications#cloudwatch-events-notification:1", None),
        ("example:iam/reference_policies_variables#policy-vars-no-value:1", None),
        ("example:iam/troubleshoot_roles#troubleshoot_roles_cant-assume-role:3", None)}
    assert {(d["example"], d["scenario"]) for d in drift} == set(MARKED) | corrected
    vpce = next(d for d in drift if d["example"].endswith("create-vpce-policy-asg:1"))
    assert vpce["kind"] == "example"
    assert vpce["section"] == "autoscaling/ec2-auto-scaling-vpc-endpoints#create-vpce-policy-asg"
    assert "DeleteScalingPolicy" in vpce["reason"]
    assert ex.example_drift(catalog["example_catalog"]) == drift


# ------------------------------------------------------------------------------------------- pure parts


def test_file_name_is_filesystem_safe() -> None:
    name = ex.file_name("example:autoscaling/security_iam_id-based-policy-examples#policy-example-tags:2")
    assert name == "autoscaling--security_iam_id-based-policy-examples--policy-example-tags--2.json"


def test_substitutions_touch_whole_arn_segments_only() -> None:
    policy = {"Resource": "arn:aws:ec2:region:123456789012:launch-template/*",
              "Condition": {"StringEquals": {"aws:SourceAccount": "account_id", "x": "my-region"}}}
    out = ex.substitute_placeholders(policy, {"region": "us-west-2", "account_id": "111122223333"})
    assert out["Resource"] == "arn:aws:ec2:us-west-2:123456789012:launch-template/*"
    assert out["Condition"]["StringEquals"] == {"aws:SourceAccount": "111122223333", "x": "my-region"}


def test_fill_example_puts_the_policy_everywhere_it_is_asked_for() -> None:
    policy = {"Effect": "Allow"}
    scenario = {"name": "n", "doc": "d", "expected": "Allowed", "status": "ok", "request": {"action": "a"},
                "identityPolicies": ["$EXAMPLE"], "resourcePolicy": {"Statement": ["$EXAMPLE", {"Sid": "x"}]}}
    out = ex.engine_scenario(scenario, policy)
    assert out == {"request": {"action": "a"}, "identityPolicies": [policy],
                   "resourcePolicy": {"Statement": [policy, {"Sid": "x"}]}}
    assert out["identityPolicies"][0] is not policy


# ------------------------------------------------------------------------------------------- bad input + CLI


def _scenario_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> Path:
    """A kb/ folder holding the real schema and the given scenario files; IAMKB_KB points at it."""
    root = tmp_path / "kb"
    (root / "schema").mkdir(parents=True)
    (root / "scenarios").mkdir()
    shutil.copy(SCHEMA, root / "schema" / SCHEMA.name)
    for name, text in files.items():
        (root / "scenarios" / name).write_text(text, encoding="utf-8")
    from iamkb.paths import build_dir

    monkeypatch.setenv("IAMKB_BUILD", str(build_dir()))  # keep reading the real KB
    monkeypatch.setenv("IAMKB_KB", str(root))
    return root / "scenarios"


DELETE_POLICY = "example:autoscaling/security_iam_id-based-policy-examples#policy-example-delete-policy:1"


def _real(example_id: str) -> dict:
    return json.loads((SCENARIOS / ex.file_name(example_id)).read_text(encoding="utf-8"))


def test_malformed_json_names_file_line_and_column(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = ex.file_name(DELETE_POLICY)
    folder = _scenario_dir(tmp_path, monkeypatch, {name: '{"example": "x",\n  "scenarios": [}\n'})
    with pytest.raises(InputError) as err:
        ex.load_scenario_files(folder)
    assert str(err.value).startswith(str(folder / name))
    assert "line 2 column 17" in str(err.value)


def test_schema_errors_name_the_json_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _real(DELETE_POLICY)
    data["scenarios"][2]["expected"] = "Denied"
    folder = _scenario_dir(tmp_path, monkeypatch, {ex.file_name(DELETE_POLICY): json.dumps(data)})
    with pytest.raises(InputError, match=r"scenarios\[2\]\.expected: 'Denied' is not one of"):
        ex.load_scenario_files(folder)


def test_a_marked_scenario_needs_its_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _real(DELETE_POLICY)
    data["scenarios"][0]["status"] = "ambiguous"
    folder = _scenario_dir(tmp_path, monkeypatch, {ex.file_name(DELETE_POLICY): json.dumps(data)})
    with pytest.raises(InputError, match=r"scenarios\[0\]\.reason: required when status is ambiguous"):
        ex.load_scenario_files(folder)


def test_a_file_must_be_named_from_its_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _scenario_dir(tmp_path, monkeypatch, {"delete-policy.json": json.dumps(_real(DELETE_POLICY))})
    with pytest.raises(InputError, match="belongs in autoscaling--security_iam"):
        ex.load_scenario_files(folder)


def test_cli_json_lists_every_example_with_counts(kb_build: Path, files: dict, capsys) -> None:
    code = main(["examples", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    by_id = {r["id"]: r for r in out}
    assert sorted(by_id) == sorted(e["id"] for e in json.loads((kb_build / "examples.json").read_text()))
    for example_id, f in files.items():
        row = by_id[example_id]
        assert row["scenarios"] == len(f.scenarios)
        assert row["passed"] == sum(1 for s in f.scenarios if s["status"] == "ok")
        assert row["failed"] == 0
    assert by_id[DELETE_POLICY]["section"] == "autoscaling/security_iam_id-based-policy-examples#policy-example-delete-policy"


def test_cli_runs_chosen_ids_and_rejects_unknown_ones(kb_build: Path, capsys) -> None:
    assert main(["examples", "--json", DELETE_POLICY]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in out] == [DELETE_POLICY]
    assert main(["examples", "example:autoscaling/nope#nope:1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown example id 'example:autoscaling/nope#nope:1'" in err


def test_cli_failure_prints_sentence_decisions_and_trace(
    kb_build: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys,
) -> None:
    data = _real(DELETE_POLICY)
    production = next(s for s in data["scenarios"] if s["name"] == "delete a policy of a production group")
    production["expected"] = "Allowed"  # what a misreading of the prose would claim
    _scenario_dir(tmp_path, monkeypatch, {ex.file_name(DELETE_POLICY): json.dumps(data)})
    assert main(["examples", DELETE_POLICY]) == 1
    out = capsys.readouterr().out
    assert "FAIL " + DELETE_POLICY in out
    assert "docs: However, it also denies the action if the Auto Scaling group being acted upon has the tag " \
           "environment=production." in out
    assert "expected Allowed, got ExplicitlyDenied" in out
    assert "     | " in out  # the explain trace


def test_stale_docs_wrong_marking_fails(kb_build: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys) -> None:
    """A docs_wrong scenario whose expected decision the engine now reaches is reported as failed."""
    data = _real(DELETE_POLICY)
    data["scenarios"][0].update(status="docs_wrong", reason="pretend the docs were wrong here")
    _scenario_dir(tmp_path, monkeypatch, {ex.file_name(DELETE_POLICY): json.dumps(data)})
    assert main(["examples", "--json", DELETE_POLICY]) == 1
    row = json.loads(capsys.readouterr().out)[0]
    assert (row["failed"], row["docs_wrong"]) == (1, 0)


def test_catalog_carries_the_lint_findings_of_iamkb_check(kb_build) -> None:
    """Each catalog entry holds what `iamkb check` says of the example, computed with the reference tables."""
    import json as _json

    from iamkb.policy.lint import lint_document

    catalog = {e["id"]: e for e in _json.loads((kb_build / "example_catalog.json").read_text(encoding="utf-8"))}
    vpce = catalog["example:autoscaling/ec2-auto-scaling-vpc-endpoints#create-vpce-policy-asg:1"]
    unknown = [f for f in vpce["lint"] if f["code"] == "UNKNOWN_ACTION"]
    assert len(unknown) == 1 and "autoscaling:DeleteScalingPolicy" in unknown[0]["message"]
    for entry in catalog.values():
        if isinstance(entry["policy"], dict) and "Statement" in entry["policy"]:
            assert entry["lint"] == [f.to_json() for f in lint_document(entry["policy"])], entry["id"]

"""`iamkb check [--json] POLICY`: lint a policy document against the grammar, the policy type's rules and the
reference data, as IAM Access Analyzer's policy validation does, check by check.

The catalog of finding codes is data (catalog.py: code, severity, title, description, the Access Analyzer checks it
implements, the policy types it applies to); each check is a small function that says which codes it emits
(checks_*.py, parliament-style). Grammar errors are findings too, with their JSON paths; input that is not a policy
at all (malformed JSON, not an object) is bad input: exit 2. Exit 1 when any finding has severity "error".
Findings about what a policy allows carry evidence: a scenario the evaluator decides as the finding says
(evidence.py). Configuration (config.py) ignores codes or paths and changes severities.
"""

from iamkb.policy.lint.catalog import BY_CODE, CATALOG, Code
from iamkb.policy.lint.cli import add_check_arguments, check_text, run_check
from iamkb.policy.lint.core import Finding
from iamkb.policy.lint.runner import CHECKS, CheckResult, check_document, default_reference, lint_document

__all__ = ["BY_CODE", "CATALOG", "CHECKS", "CheckResult", "Code", "Finding", "add_check_arguments",
           "check_document", "check_text", "default_reference", "lint_document", "run_check"]

"""The IAM policy engine: grammar (parse and validate), evaluate (decision + explain), lint, simulate.

Every rule cites the IAM User Guide section it implements as `iam/<page>#<anchor>` (the KB's section ids), so a
reader can check the code against the page. Evaluation never depends on an action or condition key being known:
the reference data is used only by lint.
"""

from iamkb.policy.evaluate import Decision, evaluate, evaluate_many
from iamkb.policy.grammar import Policy, PolicyError, parse_policy

__all__ = ["Decision", "Policy", "PolicyError", "evaluate", "evaluate_many", "parse_policy"]

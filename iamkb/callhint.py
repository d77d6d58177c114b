"""A pointer from `iamkb ask` to `iamkb can-i` when a question reads as "why is this call denied?".

It ranks nothing and reads no index: the search stage adds its result to ask's answer as `hint` (one place,
iamkb.search.ask). A question qualifies when it says that something is denied (or fails, with a word of permissions or
policies) and names a call the check covers (by its API or CLI name, or as people say it: creating a group, a launch template, a lifecycle hook).
"""

from __future__ import annotations

import re

DENIED = re.compile(r"\b(?:access ?denied|unauthori[sz]ed\w*|not authori[sz]ed|denied|denies|forbidden|not allowed)\b",
                    re.I)
FAILS = re.compile(r"\b(?:fail(?:s|ed|ing|ure)?|can'?t|cannot|error)\b", re.I)
PERMISSION = re.compile(r"\bpermissions?\b|\bpolic(?:y|ies)\b|\ballow", re.I)
# The operations of kb/build/call_rules.json (tests/test_callhint.py checks each is recognised), and how
# questions put them in words.
CALL = re.compile(r"(?:create|update)-?auto-?scaling-?group|create-?launch-?configuration|put-?lifecycle-?hook"
                  r"|(?:attach|detach)-?traffic-?sources?|\b(?:creat|updat)\w*\b(?:\W+\w+){0,4}?\W+(?:groups?|asgs?)\b"
                  r"|launch templates?|\blts?\b|lifecycle hooks?|launch configurations?|traffic sources?"
                  r"|vpc lattice", re.I)
SITE_PATH = "reference/can-i/"


def hint(question: str) -> dict[str, str] | None:
    """{"message", "command", "url"} for a "why is this call denied" question, else None."""
    failing = DENIED.search(question) or (FAILS.search(question) and PERMISSION.search(question))
    if not (failing and CALL.search(question)):
        return None
    return {"message": "This reads like a call that is denied. `iamkb can-i` checks the whole call: every "
                       "permission it needs (for you and for the service-linked role), which are missing, and the "
                       "smallest statements that fix it.",
            "command": "iamkb can-i call.json",
            "url": SITE_PATH}

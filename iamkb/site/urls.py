"""Where each KB entity lives in the site: one function from id to the generated page's path in docs/.

The hook, the server (which adds site links to API results) and the tests all use this mapping, so a page's
address is decided in one place. Paths keep the upstream names (autoscaling/security-iam.md) so a reader who
knows the AWS URL can guess the site's.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def slug(text: str) -> str:
    """A file-name-safe form: runs of anything but letters, digits, '_', '.', '-' become one '-'."""
    return _UNSAFE.sub("-", text).strip("-.") or "x"


def topic_path(page_id: str) -> str:
    """autoscaling/security-iam -> autoscaling/security-iam.md (the guide folder and upstream file name)."""
    guide, _, page = page_id.partition("/")
    return f"{guide}/{slug(page)}.md"


def section_target(section_id: str) -> tuple[str, str]:
    """A section id -> (topic page path, anchor)."""
    page_id, _, anchor = section_id.partition("#")
    return topic_path(page_id), anchor


def action_path(name: str) -> str:
    """autoscaling:DeletePolicy -> reference/actions/autoscaling/DeletePolicy.md."""
    service, _, action = name.partition(":")
    return f"reference/actions/{slug(service)}/{slug(action)}.md"


def resource_type_path(service: str, name: str) -> str:
    return f"reference/resource-types/{slug(service)}/{slug(name)}.md"


def managed_policy_path(name: str) -> str:
    return f"reference/managed-policies/{slug(name)}.md"


def example_path(example_id: str) -> str:
    """example:autoscaling/page#anchor:2 -> examples/autoscaling/page/anchor-2.md."""
    body = example_id.removeprefix("example:")
    section_id, _, n = body.rpartition(":")
    page_id, _, anchor = section_id.partition("#")
    guide, _, page = page_id.partition("/")
    return f"examples/{guide}/{slug(page)}/{slug(anchor)}-{n}.md"


def condition_key_paths(keys: Iterable[str]) -> dict[str, str]:
    """Each condition key -> its page path; keys that slug alike (case aside) get -2, -3 in sorted order."""
    taken: dict[str, int] = {}
    out: dict[str, str] = {}
    for key in sorted(set(keys)):
        base = slug(key.replace("${", "").replace("}", ""))
        n = taken.get(base.lower(), 0) + 1
        taken[base.lower()] = n
        out[key] = f"reference/condition-keys/{base if n == 1 else f'{base}-{n}'}.md"
    return out


def url_of(doc_path: str) -> str:
    """The site URL (directory style, relative to the site root) of a docs/ path: a/b.md -> a/b/."""
    if doc_path == "index.md":
        return ""
    if doc_path.endswith("/index.md"):
        return doc_path[: -len("index.md")]
    return doc_path[: -len(".md")] + "/"


def relative(from_doc: str, to_doc: str, anchor: str | None = None) -> str:
    """A Markdown link from one docs/ page to another (MkDocs resolves and checks .md links)."""
    rel = posixpath.relpath(to_doc, posixpath.dirname(from_doc) or ".")
    return f"{rel}#{anchor}" if anchor else rel


def site_url(entity_id: str, path_of: Callable[[str], str | None]) -> str | None:
    """The page of a KB id in the built site, relative to the site root ("autoscaling/page/#anchor",
    "reference/actions/autoscaling/DeletePolicy/"), or None when the site has no page for it. `path_of` is the
    site's id -> docs path (`Site.entity_path`). A section keeps its anchor; an example, an action or a
    condition key has a page of its own. The API (iamkb serve), ask's JSON and the in-page engine's data all
    link through this one function."""
    path = path_of(entity_id)
    if path is None:
        return None
    anchor = ""
    if "#" in entity_id and not entity_id.startswith(("example:", "action:", "condition_key:")):
        anchor = "#" + entity_id.partition("#")[2]
    return url_of(path) + anchor


def with_site_urls(result: dict, site_url_of: Callable[[str], str | None], prefix: str = "") -> dict:
    """Ask's or search's JSON with `site_url` (`prefix` + the page, root-relative) on each result and citation
    the site has a page for. Changes `result` and returns it."""
    for item in [*result.get("results", []), *result.get("citations", [])]:
        url = site_url_of(str(item.get("id", "")))
        if url is not None:
            item["site_url"] = prefix + url
    return result

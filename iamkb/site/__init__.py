"""The MkDocs site: a hook that renders the knowledge base (kb/build) into pages at build time.

Nothing generated is written to docs/: `hooks.py` adds the pages to MkDocs's file list in memory, so the site is
always exactly the KB it was built from.
"""

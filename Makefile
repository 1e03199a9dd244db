# The two commands: `make demo` and `make test`. Both set up .venv from scratch when needed
# (and skip that when pyproject.toml has not changed since the last install).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_HOME ?= $(CURDIR)/.demo
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test fuzz bench setup clean

setup: $(STAMP)

# The packages are installed with uv (itself installed with pip, into the venv): it resolves
# and installs the ~130 packages in seconds where pip takes a minute, and a fresh clone's
# `make test` pays that every time. uv, unlike pip, writes no bytecode unless asked; where
# PYTHONDONTWRITEBYTECODE is set (as on CI) every process would then compile SQLAlchemy,
# botocore and the rest from source at each start: `assay status` cost 1.1 CPU s, 0.5 with
# bytecode, and the suite starts hundreds of processes.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[test]'
	@touch $@

demo: $(STAMP)
	ASSAY_HOME=$${ASSAY_HOME:-$(DEMO_HOME)} $(BIN)/assay demo

# The whole suite, on SQLite and on PostgreSQL (ASSAY_TEST_BACKENDS=sqlite to skip PostgreSQL
# locally; CI keeps both and fails if PostgreSQL cannot be reached).
# The console's browser tests drive Debian's headless shell of Chromium (never a downloaded
# browser): the same engine as Playwright's own headless default, at about 60% of the CPU of the
# full browser in headless mode (tests/e2e: 140 against 240 CPU s).
# Test files run in parallel (pytest-xdist), each file whole on one worker so its module-scoped
# server starts once, the longest files first (tests/conftest.py, SLOW_FIRST); TEST_WORKERS=0
# runs serially. Assay's bytecode is written once, up front (the venv's at setup): the suite
# starts hundreds of Python processes (assay commands, servers), and where
# PYTHONDONTWRITEBYTECODE is set each would compile Assay anew.
TEST_WORKERS ?= 4
test: $(STAMP)
	@command -v chromium-headless-shell >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq chromium-headless-shell)
	@$(BIN)/python -m compileall -q src tests >/dev/null
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The model-driven fuzz test, longer than in `make test` (2,000 requests per backend there).
# FUZZ_REQUESTS and FUZZ_SEED choose how many and which; any 5xx fails it.
FUZZ_REQUESTS ?= 20000
FUZZ_SEED ?= 18
fuzz: $(STAMP)
	ASSAY_FUZZ_REQUESTS=$(FUZZ_REQUESTS) ASSAY_FUZZ_SEED=$(FUZZ_SEED) \
		$(BIN)/python -m pytest -q tests/integration/test_fuzz.py $(PYTEST_ARGS)

# bench/api.py loads the server with Debian's wrk.
bench: $(STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .demo .pytest_cache test-artifacts

# Two commands do all set-up: `make run` and `make test`. Both (re)build .venv from pinned
# versions when pyproject.toml or a lock changes: `make run` only the runtime dependencies
# (requirements.lock), `make test` adds the test tools (requirements-test.lock).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.basisd-installed
TEST_STAMP := $(VENV)/.basisd-test-installed
# The compiled book core (optional: without a C compiler the book runs on its Python core).
EXT_STAMP := $(VENV)/.basisd-ext-built
BENCH_STAMP := $(VENV)/.basisd-bench-installed
# pip's own progress on a terminal; quiet in CI and pipes.
PIP_QUIET = $$( [ -t 1 ] || echo --quiet )
PIP = $(BIN)/python -m pip install --disable-pip-version-check $(PIP_QUIET)

.PHONY: run test bench lint clean venv lock

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || { echo "basisd: creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "basisd: installing runtime dependencies (requirements.lock) into $(VENV)"
	@$(PIP) -r requirements.lock
	@$(PIP) --no-deps --no-build-isolation -e .
	@touch $(STAMP)

$(TEST_STAMP): $(STAMP) requirements-test.lock
	@echo "basisd: installing test tools (requirements-test.lock) into $(VENV)"
	@$(PIP) -r requirements.lock -r requirements-test.lock
	@touch $(TEST_STAMP)

# The editable install builds it too; this rebuilds it in place whenever the C source changes.
$(EXT_STAMP): $(STAMP) $(wildcard daemon/core/_book*.[ch]) setup.py
	@$(BIN)/python setup.py --quiet build_ext --inplace \
		|| echo "basisd: the compiled book core did not build; the book runs on its Python core"
	@touch $@

# The peers `make bench` compares against (cryptofeed and its book) and a profiler: benchmark
# only, never installed by `make run` or `make test`.
$(BENCH_STAMP): $(TEST_STAMP) requirements-bench.lock
	@echo "basisd: installing benchmark-only peers (requirements-bench.lock) into $(VENV)"
	@$(PIP) -r requirements.lock -r requirements-test.lock -r requirements-bench.lock
	@touch $(BENCH_STAMP)

run: $(STAMP) $(EXT_STAMP)
	@echo "basisd: admin socket will be $(CURDIR)/run/basisd.sock  (try: $(BIN)/basisctl status)"
	@echo "basisd: dashboard at http://127.0.0.1:8470/ (the embedded default's [dashboard])"
	@exec $(BIN)/basisd run

test: $(TEST_STAMP) $(EXT_STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Sizes: BENCH_RUNS (5), BENCH_FRAMES (200000), BENCH_SIM_MINUTES (30); writes bench-results.json.
bench: $(BENCH_STAMP) $(EXT_STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/python -m ruff check daemon connectors tests benchmarks

# Regenerate both locks from constraints.txt (the direct pins) and their resolved dependencies.
lock:
	rm -rf /tmp/basisd-lock && $(PYTHON) -m venv /tmp/basisd-lock
	/tmp/basisd-lock/bin/pip install --quiet -c constraints.txt -e .
	{ /tmp/basisd-lock/bin/pip freeze --exclude-editable | grep -v "^-e"; echo setuptools==75.8.0; echo wheel==0.45.1; } | LC_ALL=C sort > requirements.lock
	/tmp/basisd-lock/bin/pip install --quiet -c constraints.txt -e '.[test]'
	/tmp/basisd-lock/bin/pip freeze --exclude-editable | grep -v "^-e" | LC_ALL=C sort | LC_ALL=C comm -23 - requirements.lock > requirements-test.lock

clean:
	rm -rf $(VENV) run state build daemon/core/_book*.so

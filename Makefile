# Two commands do all set-up: `make run` and `make test`. Both (re)build .venv from the
# pinned versions in requirements.lock when pyproject.toml or the lock changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.basisd-installed

.PHONY: run test bench lint clean venv lock

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

run: $(STAMP)
	@echo "basisd: admin socket will be $(CURDIR)/run/basisd.sock  (try: $(BIN)/basisctl status)"
	@exec $(BIN)/basisd run

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/python -m ruff check daemon connectors tests

# Regenerate the lock from constraints.txt (the direct pins) and their resolved dependencies.
lock:
	rm -rf /tmp/basisd-lock && $(PYTHON) -m venv /tmp/basisd-lock
	/tmp/basisd-lock/bin/pip install --quiet -c constraints.txt -e '.[test]'
	{ /tmp/basisd-lock/bin/pip freeze --exclude-editable | grep -v "^-e"; echo setuptools==75.8.0; echo wheel==0.45.1; } > requirements.lock

clean:
	rm -rf $(VENV) run state

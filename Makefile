# The two commands of the README. Each creates .venv on a fresh machine and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
PIP = $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: run test test-fast lint docs notebook bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The core with pycma, so that every command of the README works (train cmaes needs the cma extra).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e ".[cma]"
	touch $@

$(VENV)/.installed-docs: pyproject.toml | $(BIN)/python
	$(PIP) install -e ".[cma,docs]"
	touch $@ $(VENV)/.installed

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) install -e ".[test,cma,docs,ray,atari,dm-control]"
	touch $@ $(VENV)/.installed $(VENV)/.installed-docs

run: $(VENV)/.installed
	$(BIN)/policysearch train cem --env CartPole-v1 --target 475 --max-seconds 120 --out runs/demo --force

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks docs/hooks
	$(BIN)/ruff format --check src tests benchmarks docs/hooks
	$(BIN)/mypy

# The documentation site, into site/ (open site/index.html); warnings and broken links fail it
# (not with --quiet: it hides the warnings that --strict counts).
docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The docs are built here too, so that they cannot rot; the tutorial notebook runs in pytest.
# The Ray tests share one xdist worker (--dist loadgroup): they start a two-node cluster.
test: lint docs
	$(BIN)/pytest -n 2 --dist loadgroup --durations=10

# Everything not marked slow (the learning tests): for quick iteration; CI runs `make test`.
test-fast: lint
	$(BIN)/pytest -n 2 --dist loadgroup -m "not slow" --durations=10

# The tutorial notebook run again, its outputs saved (the site shows them; the tests compare them).
notebook: $(VENV)/.installed-test
	$(BIN)/python docs/hooks/tutorial.py

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) runs build site .cache src/*.egg-info .pytest_cache .mypy_cache .ruff_cache

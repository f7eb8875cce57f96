# The two commands of the README (make demo, make test) work on a fresh clone with Python 3.11.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
# Every install takes its versions from the lock (regenerate with `make lock`), so a new release
# upstream cannot change what `make test` runs; `make test-latest` tries the newest releases.
CONSTRAINTS := requirements/constraints.txt
PIP_VERSION := 26.3
LATEST := .venv-latest

.PHONY: demo test lint docs bench bench-quick clean lock test-latest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet "pip==$(PIP_VERSION)"

$(VENV)/.installed-base: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP) install --quiet -c $(CONSTRAINTS) -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP) install --quiet -c $(CONSTRAINTS) -e ".[test,dev,docs]"
	touch $@ $(VENV)/.installed-base

$(VENV)/.installed-bench: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP) install --quiet -c $(CONSTRAINTS) -e ".[bench]"
	touch $@ $(VENV)/.installed-base

demo: $(VENV)/.installed-base
	$(BIN)/wkl demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check webknossos_like tests benchmarks
	$(BIN)/mypy webknossos_like

test: lint
	command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; } || echo "chromium could not be installed: the browser test will say so"
	$(BIN)/python -m pytest

docs: $(VENV)/.installed-test
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks

bench-quick: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks --quick

# The lock: every extra, resolved for the CI machine (Linux x86_64, Python 3.11).
lock: | $(BIN)/python
	$(PIP) install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --all-extras --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 --no-header --quiet -o $(CONSTRAINTS)

# The newest release of every dependency, in a separate venv: drift shows up here, by name,
# before it reaches the lock (run by .ci/latest).
test-latest:
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e ".[test,dev,docs]"
	$(LATEST)/bin/python -m pip list --format=freeze > $(LATEST)/versions.txt
	$(LATEST)/bin/ruff check webknossos_like tests benchmarks
	$(LATEST)/bin/mypy webknossos_like
	$(LATEST)/bin/python -m pytest

clean:
	rm -rf $(VENV) $(LATEST) build *.egg-info .pytest_cache .mypy_cache .ruff_cache demo_output site

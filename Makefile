# Set-up and entry points. `make quickstart` and `make test` each build the virtual environment
# first (CPU torch before everything else, so no CUDA wheel is ever pulled).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.batman-installed
PYTEST_ARGS ?=

.PHONY: install quickstart test test-fast

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

quickstart: $(STAMP)
	$(VENV)/bin/batman run campaigns/quickstart.yaml --run-dir runs/quickstart

# the fast suite and the slow end-to-end tests, two at a time (pytest-xdist; worksteal evens out the
# long Ray tests); not the speed benchmarks nor the `long` runs
test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist worksteal -m "not benchmark and not long" $(PYTEST_ARGS)

# the fast suite only (plain `pytest` does the same): about a minute once numba has cached its kernels
test-fast: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

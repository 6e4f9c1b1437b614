# The two commands: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.nbops-installed
# jlpm (from jupyter-builder) builds the JupyterLab extension during the install.
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: demo test lint docs unit-tests ts-tests ui-tests ui-deps pg-deps benchmarks clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# torch first, pinned: an unpinned torch pulls several GB of CUDA packages.
$(STAMP): pyproject.toml labextension/package.json | $(PY)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[all,dev]"
	touch $@

demo: $(STAMP)
	$(PY) example_notebooks/run_demo.py

# ruff, and the layers of nbops (import-linter contracts in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks example_notebooks
	$(VENV)/bin/lint-imports

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir $(VENV)/site

# pytest exits 5 when it collected nothing: for this project that is always a broken suite.
define pytest_checked
	$(PY) -m pytest -q -p no:cacheprovider --durations=15 $(1); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests in '$(1)': the suite is broken" >&2; exit 1; fi; \
	  exit $$rc
endef

# Debian's PostgreSQL backs the real mlflow server of the team-setup tests (tests/team); the
# tests start their own server in a temp folder. With CI set, a missing PostgreSQL fails them.
pg-deps:
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || \
	  (apt-get update && apt-get install -y postgresql)

unit-tests: $(STAMP) pg-deps
	$(call pytest_checked,)

ts-tests: $(STAMP)
	cd labextension && jlpm test

# Debian's Chromium drives the browser tests (no browser download is possible here).
ui-deps:
	command -v chromium >/dev/null 2>&1 || (apt-get update && apt-get install -y chromium)

# Its own pytest process (pytest-jupyter's event loop breaks Playwright's sync API). With CI
# set, a missing browser fails the suite instead of skipping it.
ui-tests: $(STAMP) ui-deps
	CI=1 $(call pytest_checked,tests/ui)

test: lint unit-tests ts-tests ui-tests docs

benchmarks: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .nbops site example_notebooks/output src/nbops/labextension labextension/lib \
	  labextension/node_modules

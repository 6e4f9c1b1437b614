# The two commands: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.nbops-installed

.PHONY: demo test lint docs ui-deps clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# torch first, pinned: an unpinned torch pulls several GB of CUDA packages.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[all,dev]"
	touch $@

demo: $(STAMP)
	$(PY) example_notebooks/run_demo.py

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks example_notebooks

docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --quiet --site-dir $(VENV)/site

# pytest exits 5 when it collected nothing: for this project that is always a broken suite.
test: lint $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: the suite is broken" >&2; exit 1; fi; \
	  exit $$rc
	$(MAKE) docs

clean:
	rm -rf $(VENV) .nbops site example_notebooks/output

# gisfix: every target does its own set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# uv is much faster than pip for the geospatial stack; fall back to pip if it cannot be had.
$(STAMP): $(PY) pyproject.toml
	@if $(PY) -m pip install -q uv >/dev/null 2>&1; then \
	  $(VENV)/bin/uv pip install --python $(PY) -q -e '.[test]'; \
	else \
	  $(PY) -m pip install -q -e '.[test]'; \
	fi
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/gisfix demo -o demo-output --overwrite

lint: $(STAMP)
	$(VENV)/bin/ruff check gisfix tests benchmarks

test: $(STAMP)
	$(VENV)/bin/ruff check gisfix tests benchmarks
	$(PY) -m pytest -q

bench: $(STAMP)
	$(VENV)/bin/uv pip install --python $(PY) -q -e '.[test,bench]' || $(PY) -m pip install -q -e '.[test,bench]'
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) demo-output .pytest_cache .ruff_cache

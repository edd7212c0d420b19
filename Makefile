# gisfix: every target does its own set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install clients demo test lint bench clean

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

# The real clients the tests open outputs in: Debian's QGIS (PyQGIS for /usr/bin/python3) and
# Chromium. Installed with apt-get where we run as root and apt is there (CI); quick when they
# are already installed; elsewhere their tests skip and say why.
CLIENT_PKGS := qgis python3-qgis chromium
clients:
	@if command -v qgis_process.bin >/dev/null 2>&1 && command -v chromium >/dev/null 2>&1 \
	    && /usr/bin/python3 -c "import qgis.core" >/dev/null 2>&1; then \
	  echo "clients: QGIS and Chromium are installed"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "clients: apt-get install $(CLIENT_PKGS) (a few minutes the first time)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq --no-install-recommends $(CLIENT_PKGS) >/dev/null 2>&1 \
	  || { apt-get update -qq >/dev/null 2>&1 \
	       && apt-get install -y -qq --no-install-recommends $(CLIENT_PKGS) >/dev/null; } \
	  || echo "clients: apt-get failed: the QGIS and Chromium tests will skip"; \
	else \
	  echo "clients: not root or no apt-get: the QGIS and Chromium tests skip" \
	       "(install them with: apt-get install $(CLIENT_PKGS))"; \
	fi

test: $(STAMP) clients
	$(VENV)/bin/ruff check gisfix tests benchmarks
	$(PY) -m pytest -q

bench: $(STAMP)
	$(VENV)/bin/uv pip install --python $(PY) -q -e '.[test,bench]' || $(PY) -m pip install -q -e '.[test,bench]'
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) demo-output .pytest_cache .ruff_cache

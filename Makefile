# Fleetsight: `make demo` and `make test` work on a machine with only Python, git and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Browser tests (tests/browser) drive Debian's Chromium: Playwright cannot download its own here.
DEBIAN_PACKAGES := prometheus:promtool prometheus-node-exporter:prometheus-node-exporter \
                   systemd:systemd-analyze \
                   chromium:/usr/bin/chromium chromium-driver:/usr/bin/chromedriver

.PHONY: all venv system-deps postgres demo test lint typecheck pytest bench clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

venv: $(STAMP)

system-deps:
	@scripts/ensure-debian-packages $(DEBIAN_PACKAGES)

# The store's contract tests run on PostgreSQL too (and must, under CI=true).
postgres:
	@scripts/ensure-postgres

demo: venv
	$(BIN)/python scripts/demo.py

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

pytest: venv system-deps postgres
	$(BIN)/pytest

test: lint typecheck pytest

bench: venv system-deps postgres
	@scripts/ensure-debian-packages wrk:wrk
	$(BIN)/python bench/footprint.py
	$(BIN)/python bench/launch_accuracy.py
	$(BIN)/python bench/ingest.py --seconds 60 --backend both
	$(BIN)/python bench/attack.py --seconds 20
	$(BIN)/python bench/catalog_match.py
	$(BIN)/python bench/detection_eval.py
	$(BIN)/python bench/analysis_scale.py
	$(BIN)/python bench/changepoint_public.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache

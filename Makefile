# The two set-up commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run serve load test lint system-packages bench screenshots

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.app-installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.app-installed

## Install and run the app (demo data unless BLAXEL_API_KEY is set).
run: $(VENV)/.app-installed
	$(BIN)/flask --app webapp run --host $(HOST) --port $(PORT)

## Production: gunicorn on gevent workers, the packaged configuration (needs WEBAPP_SECRET_KEY; binds WEBAPP_BIND, default 127.0.0.1:8000).
serve: $(VENV)/.app-installed
	$(BIN)/blaxel-jobs serve

## 50 viewers for 60 s against `serve` and the simulator on loopback, while 64 slow clients hold connections (figures in docs/benchmark.md).
load: $(VENV)/.app-installed
	$(BIN)/python -m bench.load --viewers 50 --seconds 60 --slow 64

## Debian's Chromium (for the browser tests) and Redis (for the shared cache tests).
system-packages:
	@if ! command -v chromium >/dev/null || ! command -v redis-server >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium redis-server; \
	fi

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Install everything, Chromium included, and run every test.
test: system-packages $(VENV)/.test-installed lint
	$(BIN)/python -m pytest -n 2 --dist loadfile --require-all

## Retake the docs' screenshots (docs/screenshots/*.png) from the real pages, demo data.
screenshots: system-packages $(VENV)/.test-installed
	SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest -m screenshot --require-all

# Datasette, for one comparison, lives in the benchmark's own environment: never a dependency.
.venv-bench/.installed:
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet datasette
	touch $@

## Benchmark against the simulated API (a few minutes); writes bench/RESULTS.md.
bench: system-packages $(VENV)/.test-installed .venv-bench/.installed
	$(BIN)/python -m bench

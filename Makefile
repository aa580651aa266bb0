# Set-up is part of every entry point: `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LOCALES := bot/locales
PO_FILES := $(wildcard $(LOCALES)/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)

# Settings may live in an untracked .env file (see .env.example); the environment wins.
ifneq (,$(wildcard .env))
include .env
export
endif

.PHONY: run test bench migrate translations catalogs check-flows clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(LOCALES)/%/LC_MESSAGES/messages.mo: $(LOCALES)/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile -D messages -i $< -o $@

catalogs: $(MO_FILES)

migrate: $(STAMP) catalogs
	$(BIN)/pendamping db upgrade

# The main job: the Telegram bot when a token is configured, the console runner otherwise.
run: migrate
	@if [ -n "$$TELEGRAM_BOT_TOKEN" ]; then \
		exec $(BIN)/pendamping run $(RUN_ARGS); \
	else \
		echo "TELEGRAM_BOT_TOKEN is not set: starting the console runner (Ctrl-D ends it; the open case is kept)."; \
		exec $(BIN)/pendamping console; \
	fi

test: $(STAMP) catalogs
	$(BIN)/mypy
	$(BIN)/pendamping flows check --strict
	$(BIN)/pendamping flows test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP) catalogs
	$(BIN)/python -m bench $(BENCH_ARGS)

# Extract flow and program texts, merge them into every catalog, compile.
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg --no-location --no-wrap --sort-output --project=Pendamping -o $(LOCALES)/messages.pot .
	$(BIN)/pybabel update -D messages -i $(LOCALES)/messages.pot -d $(LOCALES) --no-wrap
	$(MAKE) catalogs

clean:
	rm -rf $(VENV) $(MO_FILES) *.egg-info

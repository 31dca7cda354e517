# Herald's two everyday commands, `make run` and `make test`, and a few helpers.
# See docs/running.md. Needs Python 3.11+ (PYTHON=python3.12 make run to pick one).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Re-installs only when pyproject.toml is newer than the last install.
INSTALLED := $(VENV)/.herald-installed
ARGS ?=

.PHONY: run test bench lint vendor clean-data install

run: $(INSTALLED)
	$(PY) scripts/run.py

# DATABASE_URL / REDIS_URL from the environment when set, else embedded servers under .data/.
test: $(INSTALLED)
	$(PY) scripts/services.py --name test -- $(PY) -m pytest $(ARGS)

# Every bench/*.py in turn (All Campaigns, then Labels), on one database and one set of servers;
# ARGS go to each (they share --campaigns, --labels, --repeat, --reload).
bench: $(INSTALLED)
	$(PY) scripts/services.py --name bench -- sh -c 'for script in bench/*.py; do "$$0" "$$script" "$$@" || exit; done' $(PY) $(ARGS)

lint: $(INSTALLED)
	$(PY) -m ruff check .

vendor:
	$(PYTHON) scripts/vendor.py

# Deletes the embedded PostgreSQL and Redis data (refused while `make run` is using it).
clean-data:
	$(PYTHON) scripts/services.py clean-data

install: $(INSTALLED)

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Herald needs Python 3.11 or newer: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[embedded,dev]'
	@touch $@

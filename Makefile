# Billing Admin — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# pytest arguments, e.g. `make test PYTEST_ARGS="-k approve -x"`
PYTEST_ARGS ?=

.PHONY: run test lint clean help

help:
	@echo "make run    set up .venv, migrate, seed demo data, serve on http://127.0.0.1:$(PORT) with a task worker"
	@echo "make test   set up .venv with the test extra, run ruff and the whole pytest suite"

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

run: export DJANGO_DEBUG ?= true
run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py run_local --port $(PORT)

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) staticfiles test-artifacts .pytest_cache

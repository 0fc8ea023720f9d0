# Two commands on a fresh clone: `make demo` and `make test`. Both build .venv from the lock file.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench bench-quick lock clean audit

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) agent.py simulate

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m bench all --data ../shared/data

bench-quick: $(STAMP)
	$(PY) -m bench all --data ../shared/data --quick

lock:
	$(VENV)/bin/uv pip compile pyproject.toml --extra offline --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# Audit the locked dependencies (needs the PyPI JSON vulnerability API to be reachable).
audit: $(STAMP)
	$(VENV)/bin/pip-audit -r requirements.lock --no-deps --disable-pip --progress-spinner off

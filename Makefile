# Two commands on a fresh clone: `make demo` and `make test`. The demo needs the development
# set (requirements/dev.lock); the tests and `make bench` add the benchmark set (the renderer
# of the sets, whose tests run too). The plugins under plugins/ are
# installed from their folders, as a user installs them.
PYTHON ?= python3
# The corpora folder for `make bench` (read only; see docs/benchmark.md): make bench DATA=DIR
DATA ?=
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
PLUGINS := plugins/livekit-plugins-turntaking plugins/livekit-plugins-local-whisper
PLUGIN_FILES := $(foreach p,$(PLUGINS),$(p)/pyproject.toml)
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: demo test bench bench-quick image lock clean audit

$(STAMP): requirements/dev.lock $(PLUGIN_FILES)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) --require-hashes -r requirements/dev.lock
	$(PIP) --no-deps --no-build-isolation $(foreach p,$(PLUGINS),-e $(p))
	@touch $(STAMP)

$(BENCH_STAMP): $(STAMP) requirements/bench.lock
	$(PIP) --require-hashes -r requirements/bench.lock
	@touch $(BENCH_STAMP)

demo: $(STAMP)
	$(PY) agent.py simulate

test: $(BENCH_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

bench: $(BENCH_STAMP)
	@test -n "$(DATA)" || { echo 'error: set DATA to the corpora folder: make bench DATA=DIR' >&2; exit 2; }
	$(PY) -m bench all --data $(DATA)

bench-quick: $(BENCH_STAMP)
	@test -n "$(DATA)" || { echo 'error: set DATA to the corpora folder: make bench-quick DATA=DIR' >&2; exit 2; }
	$(PY) -m bench all --data $(DATA) --quick

# The production image (runtime set only), built and checked with podman.
image:
	bash scripts/image.sh

# Re-pin the three sets with hashes (needs the package index).
lock: $(STAMP)
	bash scripts/lock.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# Audit the locked dependencies (needs the PyPI JSON vulnerability API to be reachable).
audit: $(STAMP)
	$(VENV)/bin/pip-audit -r requirements/bench.lock --no-deps --disable-pip --progress-spinner off

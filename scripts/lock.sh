#!/usr/bin/env bash
# Pin the three dependency sets with hashes. The benchmark set (a superset) is resolved
# first, keeping its current pins where they still fit; the development and runtime sets
# are then constrained to it, so one package has one version in all three.
set -euo pipefail
cd "$(dirname "$0")/.."
uv=".venv/bin/uv"
compile() { "$uv" pip compile pyproject.toml --generate-hashes --python-version 3.11 --quiet "$@"; }
compile --extra dev --extra bench -o requirements/bench.lock
compile --extra dev -c requirements/bench.lock -o requirements/dev.lock
compile -c requirements/bench.lock -o requirements/runtime.lock

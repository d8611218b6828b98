#!/usr/bin/env bash
# The whole test suite: lint, the Dagster definitions, then pytest. Arguments go to pytest.
source "$(dirname "$0")/setup.sh"
ruff check .
CLINIC_HASH_SECRET=definitions-check dg check defs 2>&1 | tail -n 2
exec pytest -q "$@"

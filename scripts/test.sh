#!/usr/bin/env bash
# The whole test suite: lint, the Dagster definitions, then pytest. Arguments go to pytest.
source "$(dirname "$0")/setup.sh"
# The browser test drives Debian's Chromium (Playwright's own browser download cannot work
# offline); install it when we are root, as on CI.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: /usr/bin/chromium is missing (apt-get install chromium); browser tests skip" >&2
  fi
fi
ruff check .
ruff format --check --quiet .
sqlfluff lint --processes 2 --disable-progress-bar sql
CLINIC_HASH_SECRET=definitions-check dg check defs 2>&1 | tail -n 2
exec pytest -q "$@"

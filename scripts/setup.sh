# Sourced by demo.sh and test.sh: a .venv at the repo root with the project installed.
# Re-installs only when pyproject.toml changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
export VIRTUAL_ENV="$ROOT/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  # uv installs the stack in seconds; --compile-bytecode because PYTHONDONTWRITEBYTECODE
  # may be set, and imports without .pyc files are twice as slow.
  if .venv/bin/python -m pip install --quiet --disable-pip-version-check uv; then
    .venv/bin/uv pip install --quiet --compile-bytecode -e ".[dev]"
  else
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
  fi
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# our own modules too: an editable install leaves them to be compiled at every start
# (quick when nothing changed: only files newer than their .pyc are compiled)
.venv/bin/python -m compileall -q pipelines dashboards >/dev/null

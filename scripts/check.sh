#!/usr/bin/env bash
# `make check`: the fast tier, as any user: ruff, mypy and the tests that need no root, Docker,
# kernel, Redis or PostgreSQL. `make test` runs everything.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
want="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/pytest" ] || [ "$want" != "$(cat "$VENV/.requirements-sha256" 2>/dev/null)" ]; then
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" || { echo "error: python3-venv is needed (or run 'make test' once as root)" >&2; exit 1; }
  "$VENV/bin/pip" install -q -r requirements.txt 2>&1 | grep -v '^WARNING: Location' || true
  echo "$want" >"$VENV/.requirements-sha256"
fi
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
STATE="$(mktemp -d)"
trap 'rm -rf "$STATE"' EXIT
export WIRELAB_STATE_DIR="$STATE" DATABASE_URL="sqlite:///$STATE/check.sqlite3" WIRELAB_CHANNEL_LAYER=memory \
  CELERY_BROKER_URL=memory:// REDIS_URL=redis://127.0.0.1:1/0 HYPOTHESIS_STORAGE_DIRECTORY="$STATE/hypothesis"
"$VENV/bin/mypy"
exec "$VENV/bin/pytest" -m "not kernel" -q -p no:cacheprovider "$@"

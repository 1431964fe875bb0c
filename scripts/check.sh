#!/usr/bin/env bash
# `make check`: the fast tier, as any user: ruff and the tests that need no root, Docker,
# kernel, Redis or PostgreSQL. `make test` runs everything.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
if [ ! -x "$VENV/bin/pytest" ]; then
  python3 -m venv "$VENV" || { echo "error: python3-venv is needed (or run 'make test' once as root)" >&2; exit 1; }
  "$VENV/bin/pip" install -q -r requirements.txt
fi
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
STATE="$(mktemp -d)"
trap 'rm -rf "$STATE"' EXIT
export WIRELAB_STATE_DIR="$STATE" DATABASE_URL="sqlite:///$STATE/check.sqlite3" WIRELAB_CHANNEL_LAYER=memory \
  CELERY_BROKER_URL=memory:// REDIS_URL=redis://127.0.0.1:1/0 HYPOTHESIS_STORAGE_DIRECTORY="$STATE/hypothesis"
exec "$VENV/bin/pytest" -m "not kernel" -q -p no:cacheprovider "$@"

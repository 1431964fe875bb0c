#!/usr/bin/env bash
# `make test`: the same set-up as `make run` plus PostgreSQL, then ruff, mypy and the suite.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
need_root

ensure_packages "${BASE_PACKAGES[@]}" chromium fonts-dejavu-core git
ensure_node
ensure_venv
ensure_docker
ensure_redis
ensure_postgres
ensure_test_registry
ensure_images all

step "ruff and mypy"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy"

ensure_frontend_matches

step "pytest"
export DATABASE_URL="${TEST_DATABASE_URL:-postgres://wirelab:wirelab@127.0.0.1:5432/wirelab}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export WIRELAB_IMAGE_PULL_FROM=""  # the suite pulls only from the registry it starts on loopback
"$PY" manage.py collectstatic --noinput -v0
if [ $# -gt 0 ]; then exec "$VENV/bin/pytest" "$@"; fi

# The suite on several workers, each kept apart from the others (tests/apart.py): first every
# test that touches the kernel, then those marked `alone` (they change what other tests use, such
# as a node image), one after the other, beside the tests that touch no kernel state.
workers="${WIRELAB_TEST_WORKERS:-4}"
status=0
"$VENV/bin/pytest" -n "$workers" --dist worksteal -m "kernel and not alone" || status=$?
"$VENV/bin/pytest" -n "$workers" --dist loadgroup -m "alone or not kernel" || status=$?
exit "$status"

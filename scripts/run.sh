#!/usr/bin/env bash
# `make run`: install what is missing, start the services, serve Wirelab, print the URL.
# Ctrl-C stops what this run started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
need_root
trap 'echo; step "Stopping"; stop_started; exit 0' INT TERM

ensure_packages "${BASE_PACKAGES[@]}"
ensure_venv
ensure_docker
ensure_redis
ensure_images

step "Preparing the database"
"$PY" manage.py migrate --noinput -v0
"$PY" manage.py collectstatic --noinput -v0
"$PY" manage.py bootstrap

HOST="${WIRELAB_BIND:-127.0.0.1}"
PORT="${WIRELAB_PORT:-8000}"
LABHOST="${WIRELAB_LABHOST:-local}"
step "Starting the Celery worker for lab host '$LABHOST'"
"$VENV/bin/celery" -A config worker -Q "$LABHOST" -n "$LABHOST@%h" --concurrency 2 \
  --loglevel INFO >"$STATE/worker.log" 2>&1 &
STARTED_PIDS+=($!)
step "Starting the live-state monitor"
"$PY" manage.py labhost monitor >"$STATE/monitor.log" 2>&1 &
STARTED_PIDS+=($!)
step "Starting the web server"
"$VENV/bin/daphne" -b "$HOST" -p "$PORT" config.asgi:application >"$STATE/web.log" 2>&1 &
STARTED_PIDS+=($!)
for _ in $(seq 1 60); do
  "$PY" -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('$HOST',$PORT)))" 2>/dev/null && break
  sleep 0.5
done
echo
echo "Wirelab is running at http://$HOST:$PORT/  (health: /health/, API: /api/schema/ui/)"
echo "Logs: $STATE/web.log, $STATE/worker.log, $STATE/monitor.log. Press Ctrl-C to stop."
wait -n "${STARTED_PIDS[@]}" || true
step "A service stopped; stopping the rest (see the logs in $STATE)"
stop_started

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
ensure_images busybox
build_images_later debian frr

step "Preparing the database"
"$PY" manage.py migrate --noinput -v0
"$PY" manage.py collectstatic --noinput -v0
"$PY" manage.py bootstrap

HOST="${WIRELAB_BIND:-127.0.0.1}"
PORT="${WIRELAB_PORT:-8000}"
LABHOST="${WIRELAB_LABHOST:-local}"
step "Starting lab host '$LABHOST' (its three Celery workers and its live-state monitor)"
"$PY" manage.py labhost run --name "$LABHOST" --log-dir "$STATE" >"$STATE/labhost.log" 2>&1 &
STARTED_PIDS+=($!)
step "Starting the web server"
"$VENV/bin/daphne" -b "$HOST" -p "$PORT" config.asgi:application >"$STATE/web.log" 2>&1 &
STARTED_PIDS+=($!)
# Wait until the web server answers and every part reports up (the worker takes a moment).
for _ in $(seq 1 60); do
  "$PY" -c "import json,sys,urllib.request as u; sys.exit(0 if json.load(u.urlopen('http://$HOST:$PORT/health/?format=json', timeout=2)).get('ok') else 1)" \
    >/dev/null 2>&1 && break
  sleep 0.5
done
echo
echo "Wirelab is running at http://$HOST:$PORT/  (health: /health/, API: /api/schema/ui/)"
echo "Logs: $STATE/web.log, $STATE/labhost.log, $STATE/worker.log, $STATE/worker-slow.log, $STATE/monitor.log."
echo "Press Ctrl-C to stop."
wait -n "${STARTED_PIDS[@]}" || true
step "A service stopped; stopping the rest (see the logs in $STATE)"
stop_started

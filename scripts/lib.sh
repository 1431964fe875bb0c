# Shared set-up steps for `make run` and `make test`: each installs or starts one thing
# only when it is missing, so running them again is quick and changes nothing.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${WIRELAB_STATE_DIR:-$ROOT/.wirelab}"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
STARTED_PIDS=()
mkdir -p "$STATE"
chmod 700 "$STATE"  # the secret key, the admin password and the SQLite database live here

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

need_root() {
  [ "$(id -u)" = 0 ] || die "run as root: Wirelab builds namespaces, bridges and containers"
}

# ensure_packages PKG...: apt-get install whichever are not installed yet.
ensure_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  step "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$STATE/apt.log" 2>&1 \
    || { tail -n 20 "$STATE/apt.log"; die "apt-get install failed (log: $STATE/apt.log)"; }
}

BASE_PACKAGES=(python3 python3-venv python3-dev gcc docker.io redis-server redis-tools iproute2 containernetworking-plugins
  nftables iptables busybox-static tcpdump ca-certificates mmdebstrap)

ensure_venv() {
  local want have
  want="$(sha256sum "$ROOT/requirements.txt" | cut -d' ' -f1)"
  have="$(cat "$VENV/.requirements-sha256" 2>/dev/null || true)"
  [ -x "$PY" ] && [ "$want" = "$have" ] && return 0
  step "Preparing the Python environment (.venv)"
  [ -x "$PY" ] || python3 -m venv "$VENV"
  "$PY" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  "$PY" -m pip install -q -r "$ROOT/requirements.txt" 2>&1 | grep -v '^WARNING: Location' || true
  "$PY" -c "import django, celery, channels, docker, pyroute2" || die "the Python environment is incomplete"
  echo "$want" >"$VENV/.requirements-sha256"
}

ensure_docker() {
  docker info >/dev/null 2>&1 && return 0
  step "Starting the Docker engine"
  dockerd >"$STATE/dockerd.log" 2>&1 &
  STARTED_PIDS+=($!)
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  tail -n 20 "$STATE/dockerd.log"
  die "the Docker engine did not start (log: $STATE/dockerd.log)"
}

ensure_redis() {
  local url="${REDIS_URL:-redis://127.0.0.1:6379/0}"
  redis-cli -u "$url" ping >/dev/null 2>&1 && return 0
  step "Starting Redis on 127.0.0.1:6379"
  redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no \
    --logfile "$STATE/redis.log" --daemonize no &
  STARTED_PIDS+=($!)
  for _ in $(seq 1 40); do
    redis-cli -u "$url" ping >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  die "Redis did not start (log: $STATE/redis.log)"
}

# ensure_postgres: a local server with a `wirelab` role that may create test databases.
ensure_postgres() {
  ensure_packages postgresql
  local version
  version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
  if ! pg_lsclusters -h | grep -q "^$version main"; then
    pg_createcluster "$version" main >/dev/null
  fi
  if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}' | grep -q online; then
    step "Starting PostgreSQL $version"
    pg_ctlcluster "$version" main start
  fi
  su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='wirelab'\"" | grep -q 1 \
    || su postgres -c "psql -qc \"CREATE ROLE wirelab LOGIN CREATEDB PASSWORD 'wirelab'\""
  su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='wirelab'\"" | grep -q 1 \
    || su postgres -c "createdb -O wirelab wirelab"
}

# ensure_node: Node.js and npm, to rebuild the browser app from its sources.
ensure_node() {
  command -v node >/dev/null 2>&1 || ensure_packages nodejs
  command -v npm >/dev/null 2>&1 || ensure_packages npm
}

# ensure_frontend_matches: rebuild the browser app; fail if the committed bundle differs.
ensure_frontend_matches() {
  step "Rebuilding the browser app from frontend/src"
  "$PY" manage.py spectacular --format openapi-json --file "$STATE/openapi.json"
  (cd "$ROOT/frontend" && npm ci --no-audit --no-fund --loglevel=error \
    && npx openapi-typescript "$STATE/openapi.json" --default-non-nullable false -o src/api-types.ts >/dev/null \
    && npx tsc --noEmit && npx vite build --logLevel warn)
  local built=(frontend/src/api-types.ts frontend/static/wirelab/app)
  if [ -n "$(git -C "$ROOT" status --porcelain -- "${built[@]}")" ]; then
    git -C "$ROOT" status --short -- "${built[@]}"
    die "the committed browser app differs from a build of its sources: run 'make frontend' and commit"
  fi
}

# ensure_images [NAME...]: build Wirelab's node images that are missing or out of date
# (images/build.sh; busybox when none is named).
ensure_images() {
  "$ROOT/images/build.sh" "$@"
}

# build_images_later NAME...: the same in the background (the Debian images take a minute
# each the first time); a lab that needs one meanwhile waits for that build, or makes it.
build_images_later() {
  step "Building the Debian node images in the background (log: $STATE/images.log)"
  nohup "$ROOT/images/build.sh" "$@" >>"$STATE/images.log" 2>&1 &
}

# ensure_test_registry: Debian's Docker registry, which the tests start on loopback
# themselves; the service the package would run on every address is kept off.
ensure_test_registry() {
  command -v docker-registry >/dev/null 2>&1 && return 0
  ensure_packages docker-registry
  if command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now docker-registry >/dev/null 2>&1 || true
  fi
}

stop_started() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}

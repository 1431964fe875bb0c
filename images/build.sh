#!/usr/bin/env bash
# Builds Wirelab's node images locally (no registry needed): each image is rebuilt only when
# its recipe changes, which the image's `wirelab.recipe` label records.
#
#   images/build.sh [busybox|debian|frr|all]...   (default: busybox)
#
# wirelab/node:busybox  busybox-static and its applets, and the docker CLI of this machine (for
#                       the lab's Docker API): the fastest node, built in a few seconds.
# wirelab/nginx, wirelab/httpd, wirelab/app
#                       stand-ins for the primer's images, made from wirelab/node:busybox: a web
#                       server on port 80 (on $PORT0 for wirelab/app) with the real image's page.
# wirelab/node:debian   Debian with a network lab's tools (images/debian/node.packages).
# wirelab/frr           Debian with FRR (images/debian/frr.packages).
# The Debian images come from the machine's own Debian mirror and release (mmdebstrap).
# One build of an image at a time, whoever asks (make run, make test, a lab host on first need).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
LOCKS="${WIRELAB_IMAGE_LOCKS:-/run/wirelab/images}"

# recipe_of FILE...: what the files say, not where they are (clones share built images).
recipe_of() { cat "$@" | sha256sum | cut -c1-16; }

built_recipe() {
  docker image inspect -f '{{ index .Config.Labels "wirelab.recipe" }}' "$1" 2>/dev/null || true
}

# The docker CLI the node images carry: Debian's build, as this machine has it.
DOCKER_CLI="$(command -v docker)"

# wirelab/node:busybox: busybox-static with its applets (sh, ip, ping, nc, httpd, wget, udhcpc),
# and the docker CLI with the libraries it links.
build_busybox() (
  local tag=wirelab/node:busybox recipe
  recipe="$(recipe_of "$HERE/build.sh" /bin/busybox "$DOCKER_CLI")"
  [ "$(built_recipe "$tag")" = "$recipe" ] && return 0
  echo "==> Building $tag"
  local root
  root="$(mktemp -d)"
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,www,var/run,proc,sys,dev}
  cp /bin/busybox "$root/bin/busybox"
  chroot "$root" /bin/busybox --install -s
  cp "$DOCKER_CLI" "$root/usr/bin/docker"
  for lib in $(ldd "$DOCKER_CLI" | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  echo "wirelab" >"$root/www/index.html"
  chmod 1777 "$root/tmp"
  tar -C "$root" -c . | docker import \
    --change 'CMD ["/bin/sh"]' \
    --change "LABEL wirelab.recipe=$recipe" \
    --change 'ENV PATH=/bin:/sbin:/usr/bin:/usr/sbin' \
    - "$tag" >/dev/null
)

# The release and package sources of this machine, for mmdebstrap.
debian_suite() { . /etc/os-release && echo "$VERSION_CODENAME"; }
debian_sources() {
  local found=()
  [ -s /etc/apt/sources.list ] && found+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    [ -s "$f" ] && grep -q "debian" "$f" && found+=("$f")
  done
  cat "${found[@]}"
}

# build_debian TAG PACKAGES_FILE: a Debian root filesystem with those packages, made by
# mmdebstrap (the `essential` set plus the list, without documentation) and imported.
build_debian() (
  local tag="$1" packages="$HERE/debian/$2" recipe sources started
  command -v mmdebstrap >/dev/null || { echo "mmdebstrap is not installed" >&2; return 1; }
  recipe="$(recipe_of "$HERE/build.sh" "$HERE"/debian/{caps.c,customize.sh,wirelab-init,wirelab-frr} "$packages" \
    <(debian_suite))"
  [ "$(built_recipe "$tag")" = "$recipe" ] && return 0
  echo "==> Building $tag from Debian $(debian_suite) packages (about a minute, once)"
  started=$SECONDS
  sources="$(mktemp)"
  trap 'rm -f "$sources"' EXIT
  debian_sources >"$sources"
  mmdebstrap --mode=root --variant=essential --format=tar --quiet \
    --include="$(grep -v '^#' "$packages" | paste -sd, -)" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook="$HERE/debian/customize.sh \"\$1\"" \
    "$(debian_suite)" - "$sources" | docker import \
    --change 'CMD ["/usr/local/sbin/wirelab-init"]' \
    --change "LABEL wirelab.recipe=$recipe" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - "$tag" >/dev/null
  echo "==> Built $tag in $((SECONDS - started)) s ($(docker image inspect -f '{{ .Size }}' "$tag" \
    | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
)

# build_standin TAG PAGE PORT: wirelab/node:busybox serving PAGE on PORT (a shell word: `80`, or
# `${PORT0:-8080}` for a port the host hands out), failing as nginx fails when the port is taken.
build_standin() (
  local tag="$1" page="$2" port="$3" recipe base id dir
  build busybox
  base="$(docker image inspect -f '{{ .Id }}' wirelab/node:busybox)"
  recipe="$(printf '%s|%s|%s|%s' "$base" "$page" "$port" "$(recipe_of "$HERE/build.sh")" | sha256sum | cut -c1-16)"
  [ "$(built_recipe "$tag")" = "$recipe" ] && return 0
  echo "==> Building $tag (a stand-in made from wirelab/node:busybox)"
  dir="$(mktemp -d)"
  trap 'rm -rf "$dir"' EXIT
  mkdir -p "$dir/usr/share/html" "$dir/usr/local/bin"
  printf '%s\n' "$page" >"$dir/usr/share/html/index.html"
  cat >"$dir/usr/local/bin/serve" <<EOF
#!/bin/sh
# Serves /usr/share/html on port $port, as the image this stands in for would.
port="$port"
httpd -f -p "\$port" -h /usr/share/html 2>/tmp/serve.err && exit 0
cat /tmp/serve.err >&2
grep -q "in use" /tmp/serve.err && echo "[emerg] bind() to 0.0.0.0:\$port failed (98: Address already in use)" >&2
exit 1
EOF
  chmod 755 "$dir/usr/local/bin/serve"
  id="$(docker create wirelab/node:busybox)"
  tar -C "$dir" -c . | docker cp - "$id:/"
  docker commit --change 'CMD ["/usr/local/bin/serve"]' --change 'EXPOSE 80' \
    --change "LABEL wirelab.recipe=$recipe" "$id" "$tag" >/dev/null
  docker rm "$id" >/dev/null
)

# replaced TAG OLD_ID: the image TAG pointed to before a rebuild goes, unless a container uses it.
replaced() {
  [ -n "$2" ] && [ "$(docker image inspect -f '{{ .Id }}' "$1" 2>/dev/null)" != "$2" ] \
    && docker image rm "$2" >/dev/null 2>&1 || true
}

# build NAME: one image under its own lock, so two asking at once build it once.
build() {
  mkdir -p "$LOCKS"
  exec {lock}>"$LOCKS/$1.lock"
  flock "$lock"
  local tag make before
  case "$1" in
    busybox) tag=wirelab/node:busybox make=(build_busybox) ;;
    debian) tag=wirelab/node:debian make=(build_debian wirelab/node:debian node.packages) ;;
    frr) tag=wirelab/frr:latest make=(build_debian wirelab/frr:latest frr.packages) ;;
    nginx) tag=wirelab/nginx:latest make=(build_standin "$tag" "<h1>Welcome to nginx!</h1>" 80) ;;
    httpd) tag=wirelab/httpd:latest make=(build_standin "$tag" "<html><body><h1>It works!</h1></body></html>" 80) ;;
    app) tag=wirelab/app:latest make=(build_standin "$tag" "app" '${PORT0:-8080}') ;;
    *) echo "unknown image '$1' (busybox, debian, frr, nginx, httpd, app or all)" >&2; return 2 ;;
  esac
  before="$(docker image inspect -f '{{ .Id }}' "$tag" 2>/dev/null || true)"
  "${make[@]}"
  replaced "$tag" "$before"
  flock -u "$lock"
}

names=("$@")
[ ${#names[@]} -eq 0 ] && names=(busybox)
[ "${names[*]}" = all ] && names=(busybox nginx httpd app debian frr)
for name in "${names[@]}"; do
  build "$name"
done

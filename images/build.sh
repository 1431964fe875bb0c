#!/usr/bin/env bash
# Builds Wirelab's node images locally (no registry needed): each image is rebuilt only when
# its recipe changes, which the image's `wirelab.recipe` label records.
#
#   images/build.sh [busybox|debian|frr|all]...   (default: busybox)
#
# wirelab/node:busybox  busybox-static and its applets: the fastest node, built in a second.
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

# wirelab/node:busybox: busybox-static with its applets (sh, ip, ping, nc, httpd, wget, udhcpc).
build_busybox() (
  local tag=wirelab/node:busybox recipe
  recipe="$(recipe_of "$HERE/build.sh" /bin/busybox)"
  [ "$(built_recipe "$tag")" = "$recipe" ] && return 0
  echo "==> Building $tag"
  local root
  root="$(mktemp -d)"
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,www,var/run,proc,sys,dev}
  cp /bin/busybox "$root/bin/busybox"
  chroot "$root" /bin/busybox --install -s
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
    *) echo "unknown image '$1' (busybox, debian, frr or all)" >&2; return 2 ;;
  esac
  before="$(docker image inspect -f '{{ .Id }}' "$tag" 2>/dev/null || true)"
  "${make[@]}"
  replaced "$tag" "$before"
  flock -u "$lock"
}

names=("$@")
[ ${#names[@]} -eq 0 ] && names=(busybox)
[ "${names[*]}" = all ] && names=(busybox debian frr)
for name in "${names[@]}"; do
  build "$name"
done

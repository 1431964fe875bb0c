#!/usr/bin/env bash
# Builds Wirelab's node images locally (there is no registry): each image is rebuilt
# only when its recipe changes, which the image's `wirelab.recipe` label records.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"

recipe_of() { sha256sum "$@" | sha256sum | cut -c1-16; }

built_recipe() {
  docker image inspect -f '{{ index .Config.Labels "wirelab.recipe" }}' "$1" 2>/dev/null || true
}

# wirelab/node:busybox: busybox-static with its applets (sh, ip, ping, nc, httpd, wget, udhcpc).
build_busybox() {
  local tag=wirelab/node:busybox recipe
  recipe="$(recipe_of "$HERE/build.sh" /bin/busybox)"
  [ "$(built_recipe "$tag")" = "$recipe" ] && return 0
  echo "==> Building $tag"
  local root
  root="$(mktemp -d)"
  trap 'rm -rf "$root"' RETURN
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
}

build_busybox

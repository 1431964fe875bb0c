#!/bin/sh
# mmdebstrap's customize hook for Wirelab's Debian images: $1 is the image's root.
set -eu
root="$1"
here="$(cd "$(dirname "$0")" && pwd)"
install -m 0755 "$here/wirelab-init" "$root/usr/local/sbin/wirelab-init"
if [ -d "$root/etc/frr" ]; then
  install -m 0755 "$here/wirelab-frr" "$root/usr/local/sbin/wirelab-frr"
  ln -sf /usr/local/sbin/wirelab-frr "$root/etc/init.d/frr"
  gcc -O2 -shared -fPIC -o "$root/usr/local/lib/wirelab-caps.so" "$here/caps.c" -ldl
  # FRR runs as root in the node, which holds no capability to read other users' files.
  chroot "$root" sh -c 'chown -R root:frrvty /etc/frr && chmod 0755 /etc/frr && chmod 0644 /etc/frr/* && chown -R root:frrvty /var/log/frr'
  sed -i -E 's/^(frrvty:x:[0-9]+:.+)$/\1,root/; s/^(frrvty:x:[0-9]+:)$/\1root/' "$root/etc/group"
fi
if [ -d "$root/var/log/nginx" ]; then
  # The node's root holds no capability to write into other users' folders.
  chroot "$root" chown -R root:root /var/log/nginx /var/lib/nginx
fi
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/log/*.log

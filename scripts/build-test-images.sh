#!/usr/bin/env bash
# Builds the local images the tests and examples use, FROM scratch, from
# Debian's static binaries: no registry is needed. Idempotent: an image whose
# inputs have not changed is not rebuilt.
set -euo pipefail

if ! docker info >/dev/null 2>&1; then
  echo "build-test-images: no Docker engine answers (start dockerd, or set DOCKER_HOST)" >&2
  exit 1
fi

busybox_bin=${BUSYBOX_BIN:-/bin/busybox}
if ! file -L "$busybox_bin" 2>/dev/null | grep -q 'statically linked' && ! ldd "$busybox_bin" 2>&1 | grep -q 'not a dynamic executable'; then
  echo "build-test-images: $busybox_bin is not a static busybox (apt-get install busybox-static)" >&2
  exit 1
fi

# build NAME CONTEXT_DIR: builds CONTEXT_DIR as NAME unless an image with the
# same content label exists.
build() {
  local name=$1 ctx=$2 sum
  # Symlinks are named in the listing; regular files by their content.
  sum=$(cd "$ctx" && { find . -type l -printf '%p -> %l\n'; find . -type f -print0 | xargs -0 sha256sum; } | LC_ALL=C sort | sha256sum | cut -c1-32)
  if [ "$(docker image inspect -f '{{index .Config.Labels "org.sockerless.content"}}' "$name" 2>/dev/null || true)" = "$sum" ]; then
    echo "build-test-images: $name is up to date"
    return
  fi
  echo "LABEL org.sockerless.content=$sum" >> "$ctx/Dockerfile"
  docker build -q -t "$name" "$ctx" >/dev/null
  echo "build-test-images: built $name"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# busybox:latest — busybox with every applet linked, a passwd file and /tmp.
ctx=$work/busybox
mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/etc" "$ctx/rootfs/tmp" "$ctx/rootfs/root"
cp "$busybox_bin" "$ctx/rootfs/bin/busybox"
for applet in $("$busybox_bin" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$ctx/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nsbx_user1051:x:993:990::/tmp:/bin/sh\n' > "$ctx/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\nsbx:x:990:\n' > "$ctx/rootfs/etc/group"
chmod 1777 "$ctx/rootfs/tmp"
cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["sh"]
DOCKERFILE
build busybox:latest "$ctx"
